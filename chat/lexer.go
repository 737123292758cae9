package chat

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The lexer follows Jinja2's, configured as Hugging Face transformers configures
// it: trim_blocks and lstrip_blocks on, keep_trailing_newline off.

type tokKind int

const (
	tkText tokKind = iota
	tkVarBegin
	tkVarEnd
	tkBlockBegin
	tkBlockEnd
	tkName
	tkString
	tkInt
	tkFloat
	tkOp
	tkEOF
)

type token struct {
	kind tokKind
	val  string // text, name, operator or decoded string
	ival int64
	fval float64
	line int
}

func (t token) String() string {
	switch t.kind {
	case tkText:
		return "template data"
	case tkVarBegin:
		return "'{{'"
	case tkVarEnd:
		return "end of print statement"
	case tkBlockBegin:
		return "'{%'"
	case tkBlockEnd:
		return "end of statement block"
	case tkEOF:
		return "end of template"
	case tkString:
		return strconv.Quote(t.val)
	}
	return "'" + t.val + "'"
}

// normalizeNewlines does what Jinja's lexer does with "\n".join(source.splitlines()):
// every Python line break becomes "\n", and one trailing line break is dropped.
func normalizeNewlines(src string) string {
	var b strings.Builder
	for i := 0; i < len(src); {
		r, n := utf8.DecodeRuneInString(src[i:])
		switch r {
		case '\r':
			if i+1 < len(src) && src[i+1] == '\n' {
				n = 2
			}
			b.WriteByte('\n')
		case '\n', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			b.WriteByte('\n')
		default:
			b.WriteString(src[i : i+n])
		}
		i += n
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func isPySpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0x1c, 0x1d, 0x1e, 0x1f, 0x85:
		return true
	}
	return r > 0x7f && unicode.IsSpace(r)
}

func pyRstrip(s string) string { return strings.TrimRightFunc(s, isPySpace) }

// lines finds the line of a position in one source in O(log n) (lineOf on
// every token would make lexing quadratic).
type lines []int // offsets of the newlines

func newLines(src string) lines {
	var nl lines
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			nl = append(nl, i)
		}
	}
	return nl
}

func (nl lines) of(pos int) int {
	i, _ := slices.BinarySearch(nl, pos)
	return i + 1
}

// skipSpace returns the position after any whitespace from p.
func skipSpace(src string, p int) int {
	for p < len(src) {
		r, n := utf8.DecodeRuneInString(src[p:])
		if !isPySpace(r) {
			break
		}
		p += n
	}
	return p
}

func tokenize(src string) ([]token, error) {
	src = normalizeNewlines(src)
	nl := newLines(src)
	var toks []token
	pos := 0
	lineStarting := true
	emitText := func(s string, at int) {
		if s != "" {
			toks = append(toks, token{kind: tkText, val: s, line: nl.of(at)})
		}
	}
	for pos < len(src) {
		idx := nextTagStart(src, pos)
		if idx < 0 {
			emitText(src[pos:], pos)
			break
		}
		text := src[pos:idx]
		kind := src[idx+1]
		p := idx + 2
		var sign byte
		if p < len(src) && (src[p] == '-' || src[p] == '+') {
			sign = src[p]
			p++
		}
		if sign == '-' {
			text = pyRstrip(text)
		} else if sign != '+' && kind != '{' {
			lpos := strings.LastIndexByte(text, '\n') + 1
			if lpos > 0 || lineStarting {
				if strings.Trim(text[lpos:], " \t") == "" {
					text = text[:lpos]
				}
			}
		}
		emitText(text, pos)
		line := nl.of(idx)
		switch kind {
		case '#':
			j := strings.Index(src[p:], "#}")
			if j < 0 {
				return nil, fmt.Errorf("line %d: missing end of comment tag", line)
			}
			j += p
			end := j + 2
			if j > p && src[j-1] == '-' {
				end = skipSpace(src, end)
			}
			if end < len(src) && src[end] == '\n' {
				end++
			}
			pos = end
		case '%':
			if end, ok, err := lexRaw(src, p, &toks, line); ok || err != nil {
				if err != nil {
					return nil, err
				}
				pos = end
				break
			}
			toks = append(toks, token{kind: tkBlockBegin, line: line})
			end, err := lexInside(src, nl, p, true, &toks)
			if err != nil {
				return nil, err
			}
			pos = end
		case '{':
			toks = append(toks, token{kind: tkVarBegin, line: line})
			end, err := lexInside(src, nl, p, false, &toks)
			if err != nil {
				return nil, err
			}
			pos = end
		}
		lineStarting = pos > 0 && src[pos-1] == '\n'
	}
	toks = append(toks, token{kind: tkEOF, line: nl.of(len(src))})
	return toks, nil
}

func nextTagStart(src string, pos int) int {
	for {
		i := strings.IndexByte(src[pos:], '{')
		if i < 0 {
			return -1
		}
		i += pos
		if i+1 < len(src) && (src[i+1] == '{' || src[i+1] == '%' || src[i+1] == '#') {
			return i
		}
		pos = i + 1
	}
}

// lexRaw handles {% raw %}...{% endraw %} when the block at p (after "{%" and its
// sign) is one.
func lexRaw(src string, p int, toks *[]token, line int) (int, bool, error) {
	q := skipSpace(src, p)
	if !strings.HasPrefix(src[q:], "raw") {
		return 0, false, nil
	}
	q = skipSpace(src, q+3)
	switch {
	case strings.HasPrefix(src[q:], "-%}"):
		q = skipSpace(src, q+3)
	case strings.HasPrefix(src[q:], "%}"), strings.HasPrefix(src[q:], "+%}"):
		q += strings.Index(src[q:], "}") + 1
	default:
		return 0, false, nil
	}
	start := q
	for {
		i := strings.Index(src[q:], "{%")
		if i < 0 {
			return 0, true, fmt.Errorf("line %d: missing end of raw directive", line)
		}
		i += q
		r := i + 2
		sign := byte(0)
		if r < len(src) && (src[r] == '-' || src[r] == '+') {
			sign = src[r]
			r++
		}
		r = skipSpace(src, r)
		if !strings.HasPrefix(src[r:], "endraw") {
			q = i + 2
			continue
		}
		r = skipSpace(src, r+6)
		content := src[start:i]
		if sign == '-' {
			content = pyRstrip(content)
		}
		switch {
		case strings.HasPrefix(src[r:], "-%}"):
			r = skipSpace(src, r+3)
		case strings.HasPrefix(src[r:], "+%}"):
			r += 3
		case strings.HasPrefix(src[r:], "%}"):
			r += 2
			if r < len(src) && src[r] == '\n' {
				r++
			}
		default:
			q = i + 2
			continue
		}
		if content != "" {
			*toks = append(*toks, token{kind: tkText, val: content, line: line})
		}
		return r, true, nil
	}
}

var operators = []string{"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", ".", ":", "|", ",", "(", ")", "[", "]", "{", "}", ";"}

// lexInside lexes the expression tokens of a {% %} (block) or {{ }} tag from p up
// to and including its end, returning the position after it.
func lexInside(src string, nl lines, p int, block bool, toks *[]token) (int, error) {
	depth := 0
	for {
		p = skipSpace(src, p)
		if p >= len(src) {
			return 0, fmt.Errorf("line %d: unexpected end of template, expected end of tag", nl.of(len(src)))
		}
		line := nl.of(p)
		if depth == 0 {
			if block {
				switch {
				case strings.HasPrefix(src[p:], "-%}"):
					*toks = append(*toks, token{kind: tkBlockEnd, line: line})
					return skipSpace(src, p+3), nil
				case strings.HasPrefix(src[p:], "+%}"):
					*toks = append(*toks, token{kind: tkBlockEnd, line: line})
					return p + 3, nil
				case strings.HasPrefix(src[p:], "%}"):
					*toks = append(*toks, token{kind: tkBlockEnd, line: line})
					p += 2
					if p < len(src) && src[p] == '\n' {
						p++
					}
					return p, nil
				}
			} else {
				switch {
				case strings.HasPrefix(src[p:], "-}}"):
					*toks = append(*toks, token{kind: tkVarEnd, line: line})
					return skipSpace(src, p+3), nil
				case strings.HasPrefix(src[p:], "}}"):
					*toks = append(*toks, token{kind: tkVarEnd, line: line})
					return p + 2, nil
				}
			}
		}
		c := src[p]
		switch {
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 && isIdentStart(src[p:]):
			q := p
			for q < len(src) {
				r, n := utf8.DecodeRuneInString(src[q:])
				if r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) {
					q += n
					continue
				}
				break
			}
			*toks = append(*toks, token{kind: tkName, val: src[p:q], line: line})
			p = q
		case c >= '0' && c <= '9':
			q, tok, err := lexNumber(src, p)
			if err != nil {
				return 0, fmt.Errorf("line %d: %v", line, err)
			}
			tok.line = line
			*toks = append(*toks, tok)
			p = q
		case c == '\'' || c == '"':
			q, s, err := lexString(src, p)
			if err != nil {
				return 0, fmt.Errorf("line %d: %v", line, err)
			}
			*toks = append(*toks, token{kind: tkString, val: s, line: line})
			p = q
		default:
			op := ""
			for _, o := range operators {
				if strings.HasPrefix(src[p:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return 0, fmt.Errorf("line %d: unexpected char %q", line, c)
			}
			switch op {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				if depth == 0 {
					return 0, fmt.Errorf("line %d: unexpected '%s'", line, op)
				}
				depth--
			}
			*toks = append(*toks, token{kind: tkOp, val: op, line: line})
			p += len(op)
		}
	}
}

func isIdentStart(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLetter(r)
}

func lexNumber(src string, p int) (int, token, error) {
	q := p
	digits := func() {
		for q < len(src) && (src[q] >= '0' && src[q] <= '9' || src[q] == '_' && q+1 < len(src) && src[q+1] >= '0' && src[q+1] <= '9') {
			q++
		}
	}
	digits()
	isFloat := false
	if q+1 < len(src) && src[q] == '.' && src[q+1] >= '0' && src[q+1] <= '9' {
		isFloat = true
		q++
		digits()
	}
	if q < len(src) && (src[q] == 'e' || src[q] == 'E') {
		r := q + 1
		if r < len(src) && (src[r] == '+' || src[r] == '-') {
			r++
		}
		if r < len(src) && src[r] >= '0' && src[r] <= '9' {
			isFloat = true
			q = r
			digits()
		}
	}
	text := strings.ReplaceAll(src[p:q], "_", "")
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return 0, token{}, err
		}
		return q, token{kind: tkFloat, val: text, fval: f}, nil
	}
	i, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, token{}, err
	}
	return q, token{kind: tkInt, val: text, ival: i}, nil
}

// lexString reads a quoted string literal and decodes its Python escapes.
func lexString(src string, p int) (int, string, error) {
	quote := src[p]
	var b strings.Builder
	q := p + 1
	for q < len(src) {
		c := src[q]
		if c == quote {
			return q + 1, b.String(), nil
		}
		if c != '\\' || q+1 >= len(src) {
			b.WriteByte(c)
			q++
			continue
		}
		e := src[q+1]
		q += 2
		switch e {
		case '\n':
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if q+n > len(src) {
				return 0, "", fmt.Errorf("truncated \\%c escape", e)
			}
			v, err := strconv.ParseUint(src[q:q+n], 16, 32)
			if err != nil {
				return 0, "", fmt.Errorf("bad \\%c escape", e)
			}
			b.WriteRune(rune(v))
			q += n
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(e - '0')
			for k := 0; k < 2 && q < len(src) && src[q] >= '0' && src[q] <= '7'; k++ {
				v = v*8 + int(src[q]-'0')
				q++
			}
			b.WriteRune(rune(v))
		default:
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return 0, "", fmt.Errorf("unterminated string")
}
