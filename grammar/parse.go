// Package grammar parses grammars in llama.cpp's GBNF format and matches text
// against them byte by byte, so that a sampler can keep only the tokens whose
// bytes the grammar allows. It also converts JSON Schemas to GBNF.
//
// GBNF: a grammar is a list of rules "name ::= body"; "root" is where matching
// starts. A body is alternatives separated by "|", each a sequence of items:
// "literal" strings, [a-z] character classes ([^...] negated), "." (any
// character), rule names and (groups), each optionally followed by *, +, ?,
// {m}, {m,} or {m,n}. Strings and classes take the escapes \n \r \t \\ \" \'
// \[ \] \- \^ \xHH \uHHHH \UHHHHHHHH. "#" starts a comment to the end of the line.
package grammar

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// element kinds.
const (
	kChar = iota // one character from a class
	kRef         // a rule
	kEnd         // the end of an alternative
)

type elem struct {
	kind   uint8
	neg    bool
	rule   int32
	ranges []rune // inclusive pairs lo, hi
	ascii  [2]uint64
}

func (e *elem) matches(r rune) bool {
	if r < 128 {
		return e.ascii[r>>6]&(1<<(r&63)) != 0
	}
	in := false
	for i := 0; i < len(e.ranges); i += 2 {
		if r >= e.ranges[i] && r <= e.ranges[i+1] {
			in = true
			break
		}
	}
	return in != e.neg
}

// overlaps reports whether some character in [lo, hi] may match (exact for
// plain classes; for negated ones, whether no single range covers [lo, hi]).
func (e *elem) overlaps(lo, hi rune) bool {
	for i := 0; i < len(e.ranges); i += 2 {
		if e.neg {
			if e.ranges[i] <= lo && e.ranges[i+1] >= hi {
				return false
			}
		} else if e.ranges[i] <= hi && e.ranges[i+1] >= lo {
			return true
		}
	}
	return e.neg
}

func (e *elem) finish() {
	for r := rune(0); r < 128; r++ {
		in := false
		for i := 0; i < len(e.ranges); i += 2 {
			if r >= e.ranges[i] && r <= e.ranges[i+1] {
				in = true
				break
			}
		}
		if in != e.neg {
			e.ascii[r>>6] |= 1 << (r & 63)
		}
	}
}

type alt []elem

// parser builds rules; aux rules (groups, repetitions) are added as it goes.
type parser struct {
	src   string
	pos   int
	names map[string]int32
	rules [][]alt
	defd  []bool
	rname []string
}

// Error is a grammar that cannot be parsed, with the byte offset of the problem.
type Error struct {
	Offset int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("grammar: at byte %d: %s", e.Offset, e.Msg) }

func (p *parser) fail(format string, args ...any) error {
	return &Error{Offset: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) ruleID(name string) int32 {
	if id, ok := p.names[name]; ok {
		return id
	}
	id := int32(len(p.rules))
	p.names[name] = id
	p.rules = append(p.rules, nil)
	p.defd = append(p.defd, false)
	p.rname = append(p.rname, name)
	return id
}

func (p *parser) newAux(base string) int32 {
	for i := len(p.rules); ; i++ {
		name := fmt.Sprintf("%s-%d", base, i)
		if _, ok := p.names[name]; !ok {
			id := p.ruleID(name)
			p.defd[id] = true
			return id
		}
	}
}

func isNameByte(c byte) bool {
	return c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// space skips blanks and comments; with newlines, line ends too.
func (p *parser) space(newlines bool) {
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == ' ' || c == '\t':
			p.pos++
		case c == '#':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		case (c == '\n' || c == '\r') && newlines:
			p.pos++
		case c == '\\' && p.pos+1 < len(p.src) && (p.src[p.pos+1] == '\n' || p.src[p.pos+1] == '\r'):
			p.pos += 2
		default:
			return
		}
	}
}

func (p *parser) name() string {
	start := p.pos
	for p.pos < len(p.src) && isNameByte(p.src[p.pos]) {
		p.pos++
	}
	return p.src[start:p.pos]
}

// atRuleStart reports whether "name ::=" follows.
func (p *parser) atRuleStart() bool {
	save := p.pos
	defer func() { p.pos = save }()
	if p.name() == "" {
		return false
	}
	p.space(false)
	return strings.HasPrefix(p.src[p.pos:], "::=")
}

// Parse reads GBNF text into a Grammar.
func Parse(src string) (*Grammar, error) {
	p := &parser{src: src, names: map[string]int32{}}
	for {
		p.space(true)
		if p.pos >= len(p.src) {
			break
		}
		start := p.pos
		name := p.name()
		if name == "" {
			return nil, p.fail("expected a rule name, got %q", p.peekText())
		}
		p.space(false)
		if !strings.HasPrefix(p.src[p.pos:], "::=") {
			return nil, p.fail("expected ::= after %q", name)
		}
		p.pos += 3
		id := p.ruleID(name)
		if p.defd[id] {
			p.pos = start
			return nil, p.fail("rule %q is defined twice", name)
		}
		p.defd[id] = true
		alts, err := p.alternatives(name, false)
		if err != nil {
			return nil, err
		}
		p.rules[id] = alts
	}
	root, ok := p.names["root"]
	if !ok || !p.defd[root] {
		return nil, &Error{Offset: 0, Msg: "the grammar has no root rule"}
	}
	for id, d := range p.defd {
		if !d {
			return nil, &Error{Offset: 0, Msg: fmt.Sprintf("rule %q is used but never defined", p.rname[id])}
		}
	}
	return compile(p.rules, p.rname, root)
}

func (p *parser) peekText() string {
	end := min(p.pos+10, len(p.src))
	return p.src[p.pos:end]
}

// alternatives parses a rule body (nested: inside parentheses, where line
// ends are blanks; at top level a line end ends the rule unless the next
// line does not start a new rule).
func (p *parser) alternatives(base string, nested bool) ([]alt, error) {
	var alts []alt
	for {
		seq, err := p.sequence(base, nested)
		if err != nil {
			return nil, err
		}
		alts = append(alts, seq)
		p.space(nested)
		if !nested {
			// a "|" may begin the next line
			save := p.pos
			p.space(true)
			if p.pos >= len(p.src) || p.src[p.pos] != '|' {
				p.pos = save
			}
		}
		if p.pos < len(p.src) && p.src[p.pos] == '|' {
			p.pos++
			continue
		}
		return alts, nil
	}
}

func (p *parser) sequence(base string, nested bool) (alt, error) {
	var seq alt
	for {
		p.space(nested)
		if !nested {
			// continue on the next line unless it starts a rule or the text ends
			save := p.pos
			p.space(true)
			if p.pos >= len(p.src) || p.atRuleStart() || (save < p.pos && p.src[p.pos] == ')') {
				p.pos = save
				return seq, nil
			}
		}
		if p.pos >= len(p.src) {
			return seq, nil
		}
		c := p.src[p.pos]
		var item alt
		switch {
		case c == '"':
			p.pos++
			for {
				if p.pos >= len(p.src) {
					return nil, p.fail("unterminated string")
				}
				if p.src[p.pos] == '"' {
					p.pos++
					break
				}
				r, err := p.char()
				if err != nil {
					return nil, err
				}
				e := elem{kind: kChar, ranges: []rune{r, r}}
				e.finish()
				item = append(item, e)
			}
		case c == '[':
			p.pos++
			e := elem{kind: kChar}
			if p.pos < len(p.src) && p.src[p.pos] == '^' {
				e.neg = true
				p.pos++
			}
			for {
				if p.pos >= len(p.src) {
					return nil, p.fail("unterminated character class")
				}
				if p.src[p.pos] == ']' {
					p.pos++
					break
				}
				lo, err := p.char()
				if err != nil {
					return nil, err
				}
				hi := lo
				if p.pos+1 < len(p.src) && p.src[p.pos] == '-' && p.src[p.pos+1] != ']' {
					p.pos++
					if hi, err = p.char(); err != nil {
						return nil, err
					}
					if hi < lo {
						return nil, p.fail("range %q-%q is backwards", lo, hi)
					}
				}
				e.ranges = append(e.ranges, lo, hi)
			}
			e.finish()
			item = alt{e}
		case c == '.':
			p.pos++
			e := elem{kind: kChar, neg: true}
			e.finish()
			item = alt{e}
		case c == '(':
			p.pos++
			id := p.newAux(base)
			alts, err := p.alternatives(base, true)
			if err != nil {
				return nil, err
			}
			p.space(true)
			if p.pos >= len(p.src) || p.src[p.pos] != ')' {
				return nil, p.fail("expected )")
			}
			p.pos++
			p.rules[id] = alts
			item = alt{{kind: kRef, rule: id}}
		case isNameByte(c):
			name := p.name()
			item = alt{{kind: kRef, rule: p.ruleID(name)}}
		default:
			if c == '|' || c == ')' || c == '\n' || c == '\r' {
				return seq, nil
			}
			return nil, p.fail("unexpected %q", p.peekText())
		}
		// repetition
		if p.pos < len(p.src) {
			var lo, hi int // hi -1: unbounded
			rep := true
			switch p.src[p.pos] {
			case '*':
				lo, hi = 0, -1
				p.pos++
			case '+':
				lo, hi = 1, -1
				p.pos++
			case '?':
				lo, hi = 0, 1
				p.pos++
			case '{':
				var err error
				if lo, hi, err = p.braces(); err != nil {
					return nil, err
				}
			default:
				rep = false
			}
			if rep {
				item = p.repeat(base, item, lo, hi)
			}
		}
		seq = append(seq, item...)
	}
}

func (p *parser) braces() (lo, hi int, err error) {
	end := strings.IndexByte(p.src[p.pos:], '}')
	if end < 0 {
		return 0, 0, p.fail("unterminated {")
	}
	body := strings.ReplaceAll(p.src[p.pos+1:p.pos+end], " ", "")
	a, b, comma := strings.Cut(body, ",")
	lo, err = strconv.Atoi(a)
	if err != nil || lo < 0 {
		return 0, 0, p.fail("bad repetition {%s}", body)
	}
	switch {
	case !comma:
		hi = lo
	case b == "":
		hi = -1
	default:
		if hi, err = strconv.Atoi(b); err != nil || hi < lo {
			return 0, 0, p.fail("bad repetition {%s}", body)
		}
	}
	if lo > 10000 || hi > 10000 {
		return 0, 0, p.fail("repetition {%s} is too large", body)
	}
	p.pos += end + 1
	return lo, hi, nil
}

// repeat expands item{lo,hi} into plain sequences and aux rules.
func (p *parser) repeat(base string, item alt, lo, hi int) alt {
	if len(item) != 1 {
		id := p.newAux(base)
		p.rules[id] = []alt{item}
		item = alt{{kind: kRef, rule: id}}
	}
	var out alt
	for range lo {
		out = append(out, item...)
	}
	if hi < 0 { // R ::= item R |
		id := p.newAux(base)
		p.rules[id] = []alt{append(append(alt{}, item...), elem{kind: kRef, rule: id}), {}}
		return append(out, elem{kind: kRef, rule: id})
	}
	// nested optionals: R_k ::= item R_{k-1} | ; R_1 ::= item |
	var next int32 = -1
	for range hi - lo {
		id := p.newAux(base)
		a := append(alt{}, item...)
		if next >= 0 {
			a = append(a, elem{kind: kRef, rule: next})
		}
		p.rules[id] = []alt{a, {}}
		next = id
	}
	if next >= 0 {
		out = append(out, elem{kind: kRef, rule: next})
	}
	return out
}

// char reads one character of a string or class, with escapes.
func (p *parser) char() (rune, error) {
	c := p.src[p.pos]
	if c != '\\' {
		r, w := utf8.DecodeRuneInString(p.src[p.pos:])
		if r == utf8.RuneError && w == 1 {
			return 0, p.fail("invalid UTF-8")
		}
		p.pos += w
		return r, nil
	}
	if p.pos+1 >= len(p.src) {
		return 0, p.fail("unterminated escape")
	}
	e := p.src[p.pos+1]
	p.pos += 2
	hex := 0
	switch e {
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case '0':
		return 0, nil
	case '\\', '"', '\'', '[', ']', '-', '^', '/', '.', '|', '(', ')', '*', '+', '?', '{', '}':
		return rune(e), nil
	case 'x':
		hex = 2
	case 'u':
		hex = 4
	case 'U':
		hex = 8
	default:
		p.pos -= 2
		return 0, p.fail("unknown escape \\%c", e)
	}
	if p.pos+hex > len(p.src) {
		return 0, p.fail("short \\%c escape", e)
	}
	v, err := strconv.ParseUint(p.src[p.pos:p.pos+hex], 16, 32)
	if err != nil || v > utf8.MaxRune {
		return 0, p.fail("bad \\%c escape", e)
	}
	p.pos += hex
	return rune(v), nil
}
