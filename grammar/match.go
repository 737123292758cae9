package grammar

import (
	"fmt"
	"unicode/utf8"
)

// Grammar is a parsed, checked grammar. It is immutable and safe for
// concurrent use; matching state lives in State values.
type Grammar struct {
	elems []elem    // all alternatives, each ended by kEnd
	alts  [][]int32 // per rule, the start of each alternative in elems
	names []string
	root  int32
	// minLen: per element, the fewest characters that end its alternative
	minLen []int32
}

func compile(rules [][]alt, names []string, root int32) (*Grammar, error) {
	g := &Grammar{alts: make([][]int32, len(rules)), names: names, root: root}
	for id, alts := range rules {
		for _, a := range alts {
			g.alts[id] = append(g.alts[id], int32(len(g.elems)))
			g.elems = append(g.elems, a...)
			g.elems = append(g.elems, elem{kind: kEnd})
		}
	}
	if err := g.checkLeftRecursion(rules); err != nil {
		return nil, err
	}
	g.minLen = g.minLengths()
	return g, nil
}

// checkLeftRecursion rejects rules that can reach themselves without matching
// a character: matching them would never end.
func (g *Grammar) checkLeftRecursion(rules [][]alt) error {
	n := len(rules)
	nullable := make([]bool, n)
	for changed := true; changed; {
		changed = false
		for id, alts := range rules {
			if nullable[id] {
				continue
			}
			for _, a := range alts {
				ok := true
				for _, e := range a {
					if e.kind == kChar || (e.kind == kRef && !nullable[e.rule]) {
						ok = false
						break
					}
				}
				if ok {
					nullable[id] = true
					changed = true
					break
				}
			}
		}
	}
	// left edges: rules reachable before any character
	left := make([][]int32, n)
	for id, alts := range rules {
		for _, a := range alts {
			for _, e := range a {
				if e.kind == kChar {
					break
				}
				left[id] = append(left[id], e.rule)
				if !nullable[e.rule] {
					break
				}
			}
		}
	}
	state := make([]uint8, n) // 0 new, 1 on the path, 2 done
	var visit func(int32) error
	visit = func(r int32) error {
		state[r] = 1
		for _, s := range left[r] {
			switch state[s] {
			case 1:
				return fmt.Errorf("grammar: rule %q is left-recursive (it can reach itself before matching a character)", g.names[s])
			case 0:
				if err := visit(s); err != nil {
					return err
				}
			}
		}
		state[r] = 2
		return nil
	}
	for r := range n {
		if state[r] == 0 {
			if err := visit(int32(r)); err != nil {
				return err
			}
		}
	}
	return nil
}

// node is one frame of a matching stack: the element to match next, and the
// frames below. Stacks are shared and never modified.
type node struct {
	pos  int32
	next *node
}

// State is where matching stands: the possible stacks (a nil stack means the
// text so far is a complete match) and the bytes of a character not yet
// complete. The zero State is not valid; use Grammar.Start.
type State struct {
	stacks []*node
	part   [4]byte
	npart  uint8
}

// Start is the state before any text.
func (g *Grammar) Start() State {
	var stacks []*node
	for _, start := range g.alts[g.root] {
		stacks = g.expand(stacks, start, nil)
	}
	return State{stacks: stacks}
}

// expand adds to out the normalized stacks for matching from pos with rest
// below: each has a character element on top, or is nil (a complete match).
func (g *Grammar) expand(out []*node, pos int32, rest *node) []*node {
	e := &g.elems[pos]
	switch e.kind {
	case kChar:
		for _, s := range out {
			if s != nil && s.pos == pos && s.next == rest {
				return out
			}
		}
		return append(out, &node{pos, rest})
	case kEnd:
		if rest == nil {
			for _, s := range out {
				if s == nil {
					return out
				}
			}
			return append(out, nil)
		}
		return g.expand(out, rest.pos, rest.next)
	default:
		cont := rest
		if g.elems[pos+1].kind != kEnd { // a reference last in its alternative needs no frame
			cont = &node{pos + 1, rest}
		}
		for _, start := range g.alts[e.rule] {
			out = g.expand(out, start, cont)
		}
		return out
	}
}

// advance matches one character against every stack.
func (g *Grammar) advance(out, stacks []*node, r rune) []*node {
	for _, s := range stacks {
		if s != nil && g.elems[s.pos].matches(r) {
			out = g.expand(out, s.pos+1, s.next)
		}
	}
	return out
}

// feasible reports whether a character starting with the partial bytes could
// match some stack.
func (g *Grammar) feasible(stacks []*node, part []byte) bool {
	lo, hi, ok := prefixRange(part)
	if !ok {
		return false
	}
	for _, s := range stacks {
		if s != nil && g.elems[s.pos].overlaps(lo, hi) {
			return true
		}
	}
	return false
}

// utf8Len is the length of the character a lead byte starts (0: not a lead byte).
func utf8Len(b byte) int {
	switch {
	case b < 0x80:
		return 1
	case b >= 0xC2 && b <= 0xDF:
		return 2
	case b >= 0xE0 && b <= 0xEF:
		return 3
	case b >= 0xF0 && b <= 0xF4:
		return 4
	}
	return 0
}

// prefixRange is the range of characters whose encoding starts with part.
func prefixRange(part []byte) (lo, hi rune, ok bool) {
	n := utf8Len(part[0])
	if n <= 1 {
		return 0, 0, false
	}
	v := rune(part[0]) & (0xFF >> (n + 1))
	for _, c := range part[1:] {
		if c&0xC0 != 0x80 {
			return 0, 0, false
		}
		v = v<<6 | rune(c&0x3F)
	}
	shift := 6 * (n - len(part))
	lo, hi = v<<shift, v<<shift|(1<<shift-1)
	lo = max(lo, [5]rune{0, 0, 0x80, 0x800, 0x10000}[n])
	hi = min(hi, utf8.MaxRune)
	return lo, hi, lo <= hi
}

// step matches one byte, reusing out's storage; ok is false when the byte
// cannot follow.
func (g *Grammar) step(st *State, out []*node, b byte) (State, bool) {
	if st.npart == 0 {
		if b < 0x80 {
			out = g.advance(out[:0], st.stacks, rune(b))
			return State{stacks: out}, len(out) > 0
		}
		if utf8Len(b) == 0 {
			return State{}, false
		}
		ns := State{stacks: st.stacks, npart: 1}
		ns.part[0] = b
		return ns, g.feasible(st.stacks, ns.part[:1])
	}
	if b&0xC0 != 0x80 {
		return State{}, false
	}
	ns := State{stacks: st.stacks, part: st.part, npart: st.npart + 1}
	ns.part[st.npart] = b
	if int(ns.npart) < utf8Len(ns.part[0]) {
		return ns, g.feasible(st.stacks, ns.part[:ns.npart])
	}
	r, w := utf8.DecodeRune(ns.part[:ns.npart])
	if r == utf8.RuneError && w <= 1 {
		return State{}, false
	}
	out = g.advance(out[:0], st.stacks, r)
	return State{stacks: out}, len(out) > 0
}

// Accept matches text from st; ok is false when text cannot follow.
func (g *Grammar) Accept(st State, text []byte) (State, bool) {
	for _, b := range text {
		var ok bool
		if st, ok = g.step(&st, nil, b); !ok {
			return State{}, false
		}
	}
	return st, true
}

// AcceptString is Accept for a string.
func (g *Grammar) AcceptString(st State, text string) (State, bool) {
	return g.Accept(st, []byte(text))
}

// Complete reports whether the text so far is a complete match.
func (st State) Complete() bool {
	if st.npart != 0 {
		return false
	}
	for _, s := range st.stacks {
		if s == nil {
			return true
		}
	}
	return false
}

// Done reports whether the text is complete and nothing more can follow.
func (st State) Done() bool {
	return st.npart == 0 && len(st.stacks) == 1 && st.stacks[0] == nil
}

// Valid reports whether st is a live state (some text can still follow or
// the match is complete).
func (st State) Valid() bool { return len(st.stacks) > 0 }

// Match reports whether the whole of text matches the grammar.
func (g *Grammar) Match(text string) bool {
	st, ok := g.AcceptString(g.Start(), text)
	return ok && st.Complete()
}
