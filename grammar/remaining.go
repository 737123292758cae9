package grammar

import "math"

// unreachable is the distance of what can never be completed.
const unreachable = math.MaxInt32

// minLengths is, for each element position, the fewest characters that
// complete its alternative from there on (kEnd: 0); unreachable when no text
// can (a rule that only recurses). Computed to a fixed point: a rule's
// length is its shortest alternative's.
func (g *Grammar) minLengths() []int32 {
	seq := make([]int32, len(g.elems))
	rule := make([]int32, len(g.alts))
	for i := range seq {
		seq[i] = unreachable
	}
	for i := range rule {
		rule[i] = unreachable
	}
	for changed := true; changed; {
		changed = false
		for pos := len(g.elems) - 1; pos >= 0; pos-- {
			var n int64
			switch e := &g.elems[pos]; e.kind {
			case kEnd:
				n = 0
			case kChar:
				n = 1 + int64(seq[pos+1])
			default:
				n = int64(rule[e.rule]) + int64(seq[pos+1])
			}
			if v := int32(min(n, unreachable)); v < seq[pos] {
				seq[pos] = v
				changed = true
			}
		}
		for r, starts := range g.alts {
			for _, s := range starts {
				if seq[s] < rule[r] {
					rule[r] = seq[s]
					changed = true
				}
			}
		}
	}
	return seq
}

// Remaining is the fewest characters that make the text so far a complete
// match (0 when it is one); a large number when none can.
func (g *Grammar) Remaining(st State) int {
	best := int64(unreachable)
	for _, s := range st.stacks {
		var n int64
		for f := s; f != nil && n < best; f = f.next {
			n += int64(g.minLen[f.pos])
		}
		best = min(best, n)
	}
	return int(best)
}
