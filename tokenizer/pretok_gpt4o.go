package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// gpt4oStage is the o200k pattern of gpt-oss and GPT-4o
// (tokenizer.ggml.pre "gpt-4o"):
//
//	[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//	|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//	|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// as llama.cpp runs it: its rewrite takes the "upper" class as any letter
// but a-z and the "lower" class as any letter but A-Z (so a letter outside
// ASCII is both, and marks are neither), and the alternatives are tried in
// order, the first that matches winning (ECMAScript backtracking).
func gpt4oStage(s string, match func(int, int) bool) {
	for p := 0; p < len(s); {
		e := gpt4oMatch(s, p)
		if !match(p, e) {
			return
		}
		p = e
	}
}

func gpt4oMatch(s string, p int) int {
	c, n := classAt(s, p)
	switch {
	case c == clsLetter:
		if e := gpt4oWord(s, p); e > 0 {
			return e
		}
	case c != clsNumber && s[p] != '\r' && s[p] != '\n':
		// One leading character that is not a letter, digit or line break.
		if p+n < len(s) {
			if e := gpt4oWord(s, p+n); e > 0 {
				return e
			}
		}
	}
	if c == clsNumber {
		e := p + n
		for k := 1; k < 3 && e < len(s); k++ {
			c2, n2 := classAt(s, e)
			if c2 != clsNumber {
				break
			}
			e += n2
		}
		return e
	}
	var c2 uint8 = clsSpace
	if p+n < len(s) {
		c2, _ = classAt(s, p+n)
	}
	if c == clsOther || (s[p] == ' ' && c2 == clsOther) {
		start := p
		if c != clsOther {
			start = p + n
		}
		e := runOf(s, start, clsOther)
		for e < len(s) && (s[e] == '\r' || s[e] == '\n' || s[e] == '/') {
			e++
		}
		return e
	}
	e, last := spaceRun(s, p)
	if nl := strings.LastIndexAny(s[p:e], "\r\n"); nl >= 0 {
		return p + nl + 1 // \s*[\r\n]+
	}
	if e < len(s) && last > p {
		return last // \s+(?!\S)
	}
	return e
}

// gpt4oWord matches upper* lower+ or else upper+ lower* at s[j], then an
// optional contraction in any case; 0 if neither matches.
func gpt4oWord(s string, j int) int {
	// ends[i] is the byte after letter i of the run of letters at j.
	var buf [32]int
	ends := buf[:0]
	var upper, lower []bool
	var ub, lb [32]bool
	upper, lower = ub[:0], lb[:0]
	for i := j; i < len(s); {
		c, n := classAt(s, i)
		if c != clsLetter {
			break
		}
		r, _ := utf8.DecodeRuneInString(s[i:])
		upper = append(upper, r < 'a' || r > 'z')
		lower = append(lower, r < 'A' || r > 'Z')
		i += n
		ends = append(ends, i)
	}
	if len(ends) == 0 {
		return 0
	}
	k := 0 // leading upper letters
	for k < len(upper) && upper[k] {
		k++
	}
	end := 0
	// upper* lower+: give back upper letters until a lower one follows.
	for u := k; u >= 0 && end == 0; u-- {
		if u < len(lower) && lower[u] {
			l := u
			for l < len(lower) && lower[l] {
				l++
			}
			end = ends[l-1]
		}
	}
	if end == 0 {
		if k == 0 {
			return 0
		}
		end = ends[k-1] // upper+ with no lower letter after it
	}
	if end < len(s) && s[end] == '\'' {
		if e := contraction(s, end, true); e > 0 {
			return e
		}
	}
	return end
}
