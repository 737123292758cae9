package chat

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// strFormat is a plain str.format: {} {0} {name} fields, {{ and }}.
func strFormat(s string, args []any, kw *dict) (any, error) {
	var b strings.Builder
	auto := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '}' {
			if i+1 < len(s) && s[i+1] == '}' {
				i++
			}
			b.WriteByte('}')
			continue
		}
		if c != '{' {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '{' {
			b.WriteByte('{')
			i++
			continue
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, &evalError{"ValueError", "Single '{' encountered in format string"}
		}
		field := s[i+1 : i+j]
		i += j
		if k := strings.IndexAny(field, "!:"); k >= 0 {
			field = field[:k]
		}
		var v any
		switch {
		case field == "":
			if auto >= len(args) {
				return nil, &evalError{"IndexError", "Replacement index out of range"}
			}
			v = args[auto]
			auto++
		default:
			if n, err := strconv.Atoi(field); err == nil {
				if n >= len(args) {
					return nil, &evalError{"IndexError", "Replacement index out of range"}
				}
				v = args[n]
			} else if x, ok := kw.get(field); ok {
				v = x
			} else {
				return nil, &evalError{"KeyError", pyRepr(field)}
			}
		}
		b.WriteString(pyStr(v))
	}
	return b.String(), nil
}

var percentSpec = regexp.MustCompile(`%(\([^)]*\))?([-+ #0]*)(\d+|\*)?(?:\.(\d+))?([diouxXeEfFgGcrsa%])`)

// percentFormat is Python's s % args for the common conversions.
func percentFormat(s string, args any) (any, error) {
	var list []any
	var mapping *dict
	switch a := args.(type) {
	case tuple:
		list = a
	case *dict:
		mapping = a
		list = []any{a}
	default:
		list = []any{a}
	}
	next := 0
	var outErr error
	out := percentSpec.ReplaceAllStringFunc(s, func(m string) string {
		sm := percentSpec.FindStringSubmatch(m)
		if sm[5] == "%" {
			return "%"
		}
		var v any
		if sm[1] != "" && mapping != nil {
			v, _ = mapping.get(sm[1][1 : len(sm[1])-1])
		} else {
			if next >= len(list) {
				outErr = typeErr("not enough arguments for format string")
				return ""
			}
			v = list[next]
			next++
		}
		flags, width, prec := sm[2], sm[3], sm[4]
		var body string
		switch sm[5] {
		case "s":
			body = pyStr(v)
		case "r", "a":
			body = pyRepr(v)
		case "d", "i", "u":
			if !isNumber(v) {
				outErr = typeErr("%%d format: a real number is required, not %s", typeName(v))
				return ""
			}
			body = strconv.FormatInt(int64(toFloat(v)), 10)
			if i, ok := asInt(v); ok {
				body = strconv.FormatInt(i, 10)
			}
		default:
			spec := "%" + flags + width
			if prec != "" {
				spec += "." + prec
			}
			if sm[5] == "c" {
				spec += "c"
				if i, ok := asInt(v); ok {
					return fmt.Sprintf(spec, rune(i))
				}
				return fmt.Sprintf(spec[:len(spec)-1]+"s", pyStr(v))
			}
			if i, ok := asInt(v); ok && strings.ContainsAny(sm[5], "oxX") {
				return fmt.Sprintf(spec+sm[5], i)
			}
			return fmt.Sprintf(spec+sm[5], toFloat(v))
		}
		if prec != "" && sm[5] == "s" {
			if p, _ := strconv.Atoi(prec); p < len([]rune(body)) {
				body = string([]rune(body)[:p])
			}
		}
		if w, _ := strconv.Atoi(width); w > utf8.RuneCountInString(body) {
			pad, err := repeatString(" ", int64(w-utf8.RuneCountInString(body)))
			if err != nil {
				outErr = err
				return ""
			}
			if strings.Contains(flags, "-") {
				body += pad
			} else {
				body = pad + body
			}
		}
		return body
	})
	if outErr != nil {
		return nil, outErr
	}
	return out, nil
}
