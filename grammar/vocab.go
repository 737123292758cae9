package grammar

import "slices"

// Vocab is a vocabulary's token byte strings in a trie, built once per
// vocabulary, so that the tokens a grammar allows are found by walking the
// trie: a prefix the grammar rejects prunes every token that starts with it.
type Vocab struct {
	edges  []edge  // children of each node, sorted by byte
	first  []int32 // per node, its first edge; its last is first[n+1]
	tokens []int32 // per node, the tokens ending there: tokens[tokStart[n]:tokStart[n+1]]
	tokAt  []int32
	size   int
}

type edge struct {
	b     byte
	child int32
}

// NewVocab builds the trie of pieces (token id: its bytes); empty pieces
// (control tokens) are left out: they are never allowed.
func NewVocab(pieces [][]byte) *Vocab {
	type bnode struct {
		kids map[byte]int32
		toks []int32
	}
	nodes := []bnode{{}}
	for id, p := range pieces {
		if len(p) == 0 {
			continue
		}
		n := int32(0)
		for _, b := range p {
			c, ok := nodes[n].kids[b]
			if !ok {
				c = int32(len(nodes))
				nodes = append(nodes, bnode{})
				if nodes[n].kids == nil {
					nodes[n].kids = map[byte]int32{}
				}
				nodes[n].kids[b] = c
			}
			n = c
		}
		nodes[n].toks = append(nodes[n].toks, int32(id))
	}
	v := &Vocab{size: len(pieces), first: make([]int32, len(nodes)+1), tokAt: make([]int32, len(nodes)+1)}
	for i, n := range nodes {
		v.first[i] = int32(len(v.edges))
		start := len(v.edges)
		for b, c := range n.kids {
			v.edges = append(v.edges, edge{b, c})
		}
		slices.SortFunc(v.edges[start:], func(x, y edge) int { return int(x.b) - int(y.b) })
		v.tokAt[i] = int32(len(v.tokens))
		v.tokens = append(v.tokens, n.toks...)
	}
	v.first[len(nodes)] = int32(len(v.edges))
	v.tokAt[len(nodes)] = int32(len(v.tokens))
	return v
}

// Size is the number of token ids (pieces) the vocabulary was built from.
func (v *Vocab) Size() int { return v.size }

// Nodes is the number of trie nodes.
func (v *Vocab) Nodes() int { return len(v.first) - 1 }
