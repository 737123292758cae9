package grammar

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"unicode/utf8"
)

// Masker finds the tokens a grammar allows; it holds scratch space and
// caches, so use one per goroutine.
//
// It is fast in two ways. Matching states get a canonical identity (the set
// of stacks, each as its element positions, and the bytes of a character not
// yet complete), and the masker builds, lazily, the automaton over those
// identities: the state one byte leads to is computed once, then found in a
// table. The trie walk is then an array lookup per node. And the tokens
// allowed in a state are kept (for the most recently used states), so a
// state seen again (inside a string, a number, whitespace) costs a lookup.
type Masker struct {
	g *Grammar
	v *Vocab

	states []dstate
	ids    map[string]int32
	class  map[classKey]int32 // see classKey; -1: rejected
	key    []byte             // scratch for stateKey
	out    []byte
	keys   [][]byte

	// allowed-token bitsets of recent states, most recent first
	lru   []maskEntry
	words int

	found []uint64 // the walk's output
	fit   []uint64 // FittingBits' output
	at    []int32  // the walk's stack
	count int
}

// dstate is one interned matching state.
type dstate struct {
	st   State
	next *[256]int32 // per byte: 0 not computed, 1 rejected, else the next state's id + 2
	base int32       // the state of the same stacks with no partial character
	tops []int32     // of a base state: its stacks' distinct top elements
	rem  int32       // Grammar.Remaining of st, plus 1 (0: not yet computed)
}

// classKey names the state a character leads to from a base state: that
// depends only on which of the state's top elements the character matches.
type classKey struct {
	base int32
	sig  uint64
}

type maskEntry struct {
	id    int32
	bits  []uint64
	count int
}

const (
	maxStates = 1 << 13 // the automaton is dropped past this (about 8 MiB of tables)
	lruSize   = 16
)

// NewMasker makes a masker for g over v.
func NewMasker(g *Grammar, v *Vocab) *Masker {
	return &Masker{g: g, v: v, ids: map[string]int32{}, class: map[classKey]int32{}, words: (v.size + 63) / 64}
}

// stateKey writes st's canonical identity to m.key.
func (m *Masker) stateKey(st *State) []byte {
	m.keys = m.keys[:0]
	buf := m.key[:0]
	for _, s := range st.stacks {
		start := len(buf)
		for n := s; n != nil; n = n.next {
			buf = binary.AppendUvarint(buf, uint64(n.pos)+1)
		}
		buf = append(buf, 0)
		m.keys = append(m.keys, buf[start:])
	}
	slices.SortFunc(m.keys, compareBytes)
	m.keys = slices.CompactFunc(m.keys, func(a, b []byte) bool { return string(a) == string(b) })
	key := m.out[:0]
	for _, k := range m.keys {
		key = append(key, k...)
	}
	key = append(key, st.npart)
	key = append(key, st.part[:st.npart]...)
	m.key, m.out = buf[:0], key[:0]
	return key
}

func compareBytes(a, b []byte) int {
	switch sa, sb := string(a), string(b); {
	case sa < sb:
		return -1
	case sa > sb:
		return 1
	}
	return 0
}

// intern gives st's id, adding it when new.
func (m *Masker) intern(st State) int32 {
	key := m.stateKey(&st)
	if id, ok := m.ids[string(key)]; ok {
		return id
	}
	k := string(key)
	id := int32(len(m.states))
	base := id
	if st.npart > 0 {
		base = m.intern(State{stacks: st.stacks})
		id = int32(len(m.states))
	}
	st.stacks = slices.Clone(st.stacks)
	m.states = append(m.states, dstate{st: st, base: base})
	m.ids[k] = id
	return id
}

// complete is the state that the last byte b of a character leads to from
// the partial state s, found by the character's class when it was seen
// before.
func (m *Masker) complete(s int32, b byte) int32 {
	d := &m.states[s]
	var buf [4]byte
	copy(buf[:], d.st.part[:d.st.npart])
	buf[d.st.npart] = b
	r, w := utf8.DecodeRune(buf[:d.st.npart+1])
	if r == utf8.RuneError && w <= 1 {
		return -1
	}
	base := &m.states[d.base]
	if base.tops == nil {
		base.tops = []int32{}
		for _, st := range base.st.stacks {
			if st != nil && !slices.Contains(base.tops, st.pos) {
				base.tops = append(base.tops, st.pos)
			}
		}
	}
	if len(base.tops) > 64 {
		return m.stepState(s, b)
	}
	k := classKey{base: d.base}
	for i, pos := range base.tops {
		if m.g.elems[pos].matches(r) {
			k.sig |= 1 << i
		}
	}
	if id, ok := m.class[k]; ok {
		return id
	}
	id := m.stepState(s, b)
	m.class[k] = id
	return id
}

// stepState matches byte b from state s.
func (m *Masker) stepState(s int32, b byte) int32 {
	ns, ok := m.g.step(&m.states[s].st, nil, b)
	if !ok {
		return -1
	}
	return m.intern(ns)
}

// next is the state byte b leads to from state s (-1: b is rejected).
func (m *Masker) next(s int32, b byte) int32 {
	d := &m.states[s]
	if d.next == nil {
		d.next = new([256]int32)
	}
	if x := d.next[b]; x != 0 {
		return x - 2
	}
	var id int32
	if d.st.npart > 0 && b&0xC0 == 0x80 && int(d.st.npart)+1 == utf8Len(d.st.part[0]) {
		id = m.complete(s, b)
	} else {
		id = m.stepState(s, b)
	}
	m.states[s].next[b] = id + 2
	return id
}

// AllowedBits returns the tokens whose bytes can follow st, as a bitset (bit
// id%64 of word id/64) that the caller must not change and that is valid
// until the masker's next call, and how many they are. End of generation is
// not a token here: st.Complete says whether it may come.
func (m *Masker) AllowedBits(st State) ([]uint64, int) {
	m.bound()
	id := m.intern(st)
	for i, e := range m.lru {
		if e.id == id {
			copy(m.lru[1:i+1], m.lru[:i])
			m.lru[0] = e
			return e.bits, e.count
		}
	}
	var e maskEntry
	if len(m.lru) == lruSize {
		e = m.lru[lruSize-1]
		clear(e.bits)
	} else {
		m.lru = append(m.lru, maskEntry{})
		e.bits = make([]uint64, m.words)
	}
	copy(m.lru[1:], m.lru[:len(m.lru)-1])
	m.found, m.count = e.bits, 0
	m.walk(id, -1)
	e.id, e.count = id, m.count
	m.lru[0] = e
	m.found = nil
	return e.bits, e.count
}

// bound drops the automaton when it has grown past maxStates.
func (m *Masker) bound() {
	if len(m.states) > maxStates {
		m.states, m.lru = m.states[:0], m.lru[:0]
		clear(m.ids)
		clear(m.class)
	}
}

// FittingBits is AllowedBits keeping only the tokens after which the text
// can be complete within at most within more characters (Grammar.Remaining).
// Its bitset is valid until the masker's next call.
func (m *Masker) FittingBits(st State, within int) ([]uint64, int) {
	m.bound()
	id := m.intern(st)
	if len(m.fit) != m.words {
		m.fit = make([]uint64, m.words)
	}
	clear(m.fit)
	m.found, m.count = m.fit, 0
	m.walk(id, within)
	m.found = nil
	return m.fit, m.count
}

// remaining is Grammar.Remaining of state s, computed once.
func (m *Masker) remaining(s int32) int {
	d := &m.states[s]
	if d.rem == 0 {
		d.rem = int32(min(m.g.Remaining(d.st), unreachable-1)) + 1
	}
	return int(d.rem) - 1
}

// Allowed sets allow[id] for each token whose bytes can follow st (allow
// has Size entries, all false on entry) and returns how many it set. End of
// generation is not a token here: st.Complete says whether it may come.
func (m *Masker) Allowed(st State, allow []bool) int {
	set, n := m.AllowedBits(st)
	for i, w := range set {
		for ; w != 0; w &= w - 1 {
			allow[i*64+bits.TrailingZeros64(w)] = true
		}
	}
	return n
}

// walk marks the tokens that can follow state s (and after which the text
// can be complete within at most within characters, unless within < 0),
// going through the trie in its depth-first order with the state at each
// depth on a stack.
func (m *Masker) walk(s int32, within int) {
	nodes, tokens := m.v.nodes, m.v.tokens
	at := append(m.at[:0], s) // at[d]: the state at depth d of the current path
	for i := int32(1); i < int32(len(nodes))-1; {
		nd := &nodes[i]
		d := int(nd.depth)
		p := at[d-1]
		var t int32
		if tbl := m.states[p].next; tbl != nil && tbl[nd.b] != 0 {
			t = tbl[nd.b] - 2
		} else {
			t = m.next(p, nd.b)
		}
		if t < 0 {
			i = nd.end
			continue
		}
		if within < 0 || nd.tok < nodes[i+1].tok && m.remaining(t) <= within {
			for _, tok := range tokens[nd.tok:nodes[i+1].tok] {
				m.found[tok>>6] |= 1 << (tok & 63)
				m.count++
			}
		}
		at = append(at[:d], t)
		i++
	}
	m.at = at
}
