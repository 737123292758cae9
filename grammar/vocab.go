package grammar

import "slices"

// Vocab is a vocabulary's token byte strings in a trie, built once per
// vocabulary, so that the tokens a grammar allows are found by walking the
// trie: a prefix the grammar rejects prunes every token that starts with it.
//
// The nodes are laid out in depth-first order (children by byte), each with
// the end of its subtree, so a walk reads the arrays front to back and skips
// a pruned subtree by jumping past it.
type Vocab struct {
	nodes  []tnode // nodes[0] is the root
	tokens []int32 // the tokens ending at node i: tokens[nodes[i].tok:nodes[i+1].tok]
	size   int
}

// tnode is one trie node: the byte from its parent, its depth (the root's
// is 0), the index past its subtree, and its first token.
type tnode struct {
	end   int32
	tok   int32
	depth uint16
	b     byte
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
		if len(p) == 0 || len(p) >= 1<<16 {
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
	v := &Vocab{size: len(pieces), nodes: make([]tnode, 0, len(nodes)+1)}
	var add func(n int32, b byte, depth int)
	add = func(n int32, b byte, depth int) {
		i := len(v.nodes)
		v.nodes = append(v.nodes, tnode{tok: int32(len(v.tokens)), depth: uint16(depth), b: b})
		v.tokens = append(v.tokens, nodes[n].toks...)
		kids := make([]byte, 0, len(nodes[n].kids))
		for k := range nodes[n].kids {
			kids = append(kids, k)
		}
		slices.Sort(kids)
		for _, k := range kids {
			add(nodes[n].kids[k], k, depth+1)
		}
		v.nodes[i].end = int32(len(v.nodes))
	}
	add(0, 0, 0)
	v.nodes = append(v.nodes, tnode{tok: int32(len(v.tokens))}) // a sentinel for the last node's tokens
	return v
}

// Size is the number of token ids (pieces) the vocabulary was built from.
func (v *Vocab) Size() int { return v.size }

// Nodes is the number of trie nodes.
func (v *Vocab) Nodes() int { return len(v.nodes) - 1 }
