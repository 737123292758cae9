package grammar

import (
	"fmt"
	"regexp/syntax"
	"strings"
)

// patternGBNF converts a regular expression (the safe subset: literals,
// classes, ., groups, alternation, * + ? {m,n}, ^ and $ at the ends) to a
// GBNF expression over the JSON string's characters.
func patternGBNF(p string) (string, error) {
	re, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return "", err
	}
	re = re.Simplify()
	body, err := reGBNF(re)
	if err != nil {
		return "", err
	}
	// JSON Schema patterns are not anchored: any text may come around them
	any := `([^"\\\x7F\x00-\x1F]{0,8})`
	if !strings.HasPrefix(p, "^") {
		body = any + " " + body
	}
	if !strings.HasSuffix(p, "$") || strings.HasSuffix(p, `\$`) {
		body = body + " " + any
	}
	return body, nil
}

func reGBNF(re *syntax.Regexp) (string, error) {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginText, syntax.OpEndText, syntax.OpBeginLine, syntax.OpEndLine:
		return `""`, nil
	case syntax.OpLiteral:
		var parts []string
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 {
				parts = append(parts, classGBNF([]rune{r, r, toUpper(r), toUpper(r), toLower(r), toLower(r)}))
			} else {
				parts = append(parts, charGBNF(r))
			}
		}
		return "(" + strings.Join(parts, " ") + ")", nil
	case syntax.OpCharClass:
		return classGBNF(re.Rune), nil
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		return `[^"\\\x7F\x00-\x1F]`, nil
	case syntax.OpCapture:
		return reGBNF(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		s, err := reGBNF(re.Sub[0])
		if err != nil {
			return "", err
		}
		return "(" + s + ")" + map[syntax.Op]string{syntax.OpStar: "*", syntax.OpPlus: "+", syntax.OpQuest: "?"}[re.Op], nil
	case syntax.OpRepeat:
		s, err := reGBNF(re.Sub[0])
		if err != nil {
			return "", err
		}
		if re.Max < 0 {
			return fmt.Sprintf("(%s){%d,}", s, re.Min), nil
		}
		return fmt.Sprintf("(%s){%d,%d}", s, re.Min, re.Max), nil
	case syntax.OpConcat, syntax.OpAlternate:
		var parts []string
		for _, sub := range re.Sub {
			s, err := reGBNF(sub)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		sep := " "
		if re.Op == syntax.OpAlternate {
			sep = " | "
		}
		return "(" + strings.Join(parts, sep) + ")", nil
	}
	return "", fmt.Errorf("the regular expression construct %v is not supported", re.Op)
}

func toUpper(r rune) rune { return []rune(strings.ToUpper(string(r)))[0] }
func toLower(r rune) rune { return []rune(strings.ToLower(string(r)))[0] }

// charGBNF is one character of the decoded string as the JSON text spells it.
func charGBNF(r rune) string {
	switch r {
	case '"':
		return `"\\\""`
	case '\\':
		return `"\\\\"`
	}
	if r < 0x20 {
		return lit(fmt.Sprintf(`\u%04x`, r))
	}
	return lit(string(r))
}

// classGBNF is a character class (pairs lo, hi) without the characters JSON
// strings must escape.
func classGBNF(ranges []rune) string {
	var b strings.Builder
	b.WriteByte('[')
	esc := func(r rune) string {
		switch r {
		case ']', '[', '\\', '-', '^', '"':
			return `\` + string(r)
		}
		if r == 0x7f {
			return `\x7F`
		}
		return string(r)
	}
	n := 0
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		for _, seg := range subtract(lo, hi) {
			b.WriteString(esc(seg[0]))
			if seg[1] != seg[0] {
				b.WriteString("-" + esc(seg[1]))
			}
			n++
		}
	}
	b.WriteByte(']')
	if n == 0 {
		return `[^\x00-\U0010FFFF]` // matches nothing
	}
	return b.String()
}

// subtract is [lo, hi] without control characters, '"', '\\' and DEL.
func subtract(lo, hi rune) [][2]rune {
	segs := [][2]rune{{lo, hi}}
	for _, cut := range [][2]rune{{0, 0x1f}, {'"', '"'}, {'\\', '\\'}, {0x7f, 0x7f}, {0xD800, 0xDFFF}} {
		var next [][2]rune
		for _, s := range segs {
			if s[1] < cut[0] || s[0] > cut[1] {
				next = append(next, s)
				continue
			}
			if s[0] < cut[0] {
				next = append(next, [2]rune{s[0], cut[0] - 1})
			}
			if s[1] > cut[1] {
				next = append(next, [2]rune{cut[1] + 1, s[1]})
			}
		}
		segs = next
	}
	return segs
}
