package chat

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// stringFilters are the filters of strings.
func stringFilters() map[string]filterFunc {
	return map[string]filterFunc{
		"capitalize": func(_ *renderer, x any, _ []any, _ *dict) (any, error) {
			return pyCapitalize(pyStr(x)), nil
		},
		"escape": filterEscape,
		"e":      filterEscape,
		"format": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			if kw.len() > 0 {
				return percentFormat(pyStr(x), kw)
			}
			return percentFormat(pyStr(x), tuple(args))
		},
		"indent": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			width := argAt(args, kw, 0, "width", int64(4))
			first := truthy(argAt(args, kw, 1, "first", false))
			blank := truthy(argAt(args, kw, 2, "blank", false))
			ind := ""
			if s, ok := width.(string); ok {
				ind = s
			} else if n, ok := asInt(width); ok {
				var err error
				if ind, err = repeatString(" ", n); err != nil {
					return nil, err
				}
			}
			lines := pySplitLines(pyStr(x) + "\n")
			var rv string
			if blank {
				var err error
				if rv, err = joinStrings(lines, "\n"+ind); err != nil {
					return nil, err
				}
			} else {
				rv = lines[0]
				for _, l := range lines[1:] {
					if l != "" {
						l = ind + l
					}
					rv += "\n" + l
					if err := checkString(len(rv)); err != nil {
						return nil, err
					}
				}
			}
			if first {
				rv = ind + rv
			}
			return rv, nil
		},
		"lower": func(_ *renderer, x any, _ []any, _ *dict) (any, error) {
			return strings.ToLower(pyStr(x)), nil
		},
		"upper": func(_ *renderer, x any, _ []any, _ *dict) (any, error) {
			return strings.ToUpper(pyStr(x)), nil
		},
		"replace": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			n := int64(-1)
			if c := argAt(args, kw, 2, "count", nil); c != nil {
				n, _ = asInt(c)
			}
			return replaceString(pyStr(x), pyStr(argAt(args, kw, 0, "old", "")), pyStr(argAt(args, kw, 1, "new", "")), int(n))
		},
		"string": func(_ *renderer, x any, _ []any, _ *dict) (any, error) { return pyStr(x), nil },
		"title": func(_ *renderer, x any, _ []any, _ *dict) (any, error) {
			s := pyStr(x)
			var b strings.Builder
			for _, part := range splitKeep(wordBeginning, s) {
				if part == "" {
					continue
				}
				r, n := utf8.DecodeRuneInString(part)
				b.WriteString(strings.ToUpper(string(r)) + strings.ToLower(part[n:]))
			}
			return b.String(), nil
		},
		"trim": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			return pyStrip(pyStr(x), argAt(args, kw, 0, "chars", nil), true, true), nil
		},
		"wordcount": func(_ *renderer, x any, _ []any, _ *dict) (any, error) {
			return int64(len(wordRe.FindAllString(pyStr(x), -1))), nil
		},
	}
}

var (
	wordBeginning = regexp.MustCompile(`[-\s({\[<]+`)
	wordRe        = regexp.MustCompile(`\w+`)
)

// splitKeep splits s around re's matches, keeping the matches (Python's re.split
// with a capturing group).
func splitKeep(re *regexp.Regexp, s string) []string {
	var out []string
	last := 0
	for _, m := range re.FindAllStringIndex(s, -1) {
		out = append(out, s[last:m[0]], s[m[0]:m[1]])
		last = m[1]
	}
	return append(out, s[last:])
}

func filterEscape(_ *renderer, x any, _ []any, _ *dict) (any, error) {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(pyStr(x)), nil
}
