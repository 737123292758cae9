package chat

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// argAt is the i-th positional argument or the keyword argument name, or def.
func argAt(args []any, kw *dict, i int, name string, def any) any {
	if i < len(args) {
		return args[i]
	}
	if kw != nil {
		if v, ok := kw.get(name); ok {
			return v
		}
	}
	return def
}

func checkUndefined(v any) error {
	if u, ok := v.(undefined); ok {
		return u.err()
	}
	return nil
}

type filterFunc func(r *renderer, x any, args []any, kw *dict) (any, error)

var filters map[string]filterFunc

func init() {
	filters = map[string]filterFunc{
		"abs": func(_ *renderer, x any, _ []any, _ *dict) (any, error) {
			switch v := x.(type) {
			case int64:
				if v < 0 {
					return -v, nil
				}
				return v, nil
			case bool:
				i, _ := asInt(v)
				return i, nil
			case float64:
				return math.Abs(v), nil
			}
			return nil, typeErr("bad operand type for abs(): '%s'", typeName(x))
		},
		"attr": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			return getAttr(x, pyStr(argAt(args, kw, 0, "name", "")))
		},
		"capitalize": func(_ *renderer, x any, _ []any, _ *dict) (any, error) {
			return pyCapitalize(pyStr(x)), nil
		},
		"default": filterDefault,
		"d":       filterDefault,
		"dictsort": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			d, ok := x.(*dict)
			if !ok {
				return nil, &evalError{"FilterArgumentError", "You can only sort by either 'key' or 'value'"}
			}
			cs := truthy(argAt(args, kw, 0, "case_sensitive", false))
			by := pyStr(argAt(args, kw, 1, "by", "key"))
			rev := truthy(argAt(args, kw, 2, "reverse", false))
			pos := 0
			if by == "value" {
				pos = 1
			}
			items := dictItems(d)
			err := sortBy(items, rev, func(v any) any { return caseKey(v.(tuple)[pos], cs) })
			return items, err
		},
		"escape": filterEscape,
		"e":      filterEscape,
		"first": func(_ *renderer, x any, _ []any, _ *dict) (any, error) {
			items, err := iterate(x)
			if err != nil {
				return nil, err
			}
			if len(items) == 0 {
				return undefined{"No first item, sequence was empty."}, nil
			}
			return items[0], nil
		},
		"last": func(_ *renderer, x any, _ []any, _ *dict) (any, error) {
			items, err := iterate(x)
			if err != nil {
				return nil, err
			}
			if len(items) == 0 {
				return undefined{"No last item, sequence was empty."}, nil
			}
			return items[len(items)-1], nil
		},
		"float": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			def := argAt(args, kw, 0, "default", 0.0)
			switch v := x.(type) {
			case bool, int64, float64:
				return toFloat(v), nil
			case string:
				f, err := strconv.ParseFloat(strings.TrimFunc(v, isPySpace), 64)
				if err != nil {
					return def, nil
				}
				return f, nil
			}
			return def, nil
		},
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
				ind = strings.Repeat(" ", int(max(n, 0)))
			}
			lines := pySplitLines(pyStr(x) + "\n")
			var rv string
			if blank {
				rv = strings.Join(lines, "\n"+ind)
			} else {
				rv = lines[0]
				for _, l := range lines[1:] {
					if l != "" {
						l = ind + l
					}
					rv += "\n" + l
				}
			}
			if first {
				rv = ind + rv
			}
			return rv, nil
		},
		"int": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			def := argAt(args, kw, 0, "default", int64(0))
			base := argAt(args, kw, 1, "base", int64(10))
			switch v := x.(type) {
			case bool, int64:
				i, _ := asInt(v)
				return i, nil
			case float64:
				return int64(v), nil
			case string:
				b, _ := asInt(base)
				s := strings.ReplaceAll(strings.TrimFunc(v, isPySpace), "_", "")
				if i, err := strconv.ParseInt(s, int(b), 64); err == nil {
					return i, nil
				}
				if f, err := strconv.ParseFloat(s, 64); err == nil {
					return int64(f), nil
				}
			}
			return def, nil
		},
		"items": func(_ *renderer, x any, _ []any, _ *dict) (any, error) {
			switch v := x.(type) {
			case undefined:
				return []any{}, nil
			case *dict:
				return dictItems(v), nil
			}
			return nil, typeErr("Can only get item pairs from a mapping.")
		},
		"join": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			items, err := iterate(x)
			if err != nil {
				return nil, err
			}
			sep := pyStr(argAt(args, kw, 0, "d", ""))
			attr := argAt(args, kw, 1, "attribute", nil)
			parts := make([]string, len(items))
			for i, it := range items {
				if attr != nil {
					if it, err = attrPath(it, attr); err != nil {
						return nil, err
					}
				}
				parts[i] = pyStr(it)
			}
			return strings.Join(parts, sep), nil
		},
		"length": filterLength,
		"count":  filterLength,
		"list": func(_ *renderer, x any, _ []any, _ *dict) (any, error) {
			items, err := iterate(x)
			return append([]any{}, items...), err
		},
		"lower": func(_ *renderer, x any, _ []any, _ *dict) (any, error) {
			return strings.ToLower(pyStr(x)), nil
		},
		"upper": func(_ *renderer, x any, _ []any, _ *dict) (any, error) {
			return strings.ToUpper(pyStr(x)), nil
		},
		"map": func(r *renderer, x any, args []any, kw *dict) (any, error) {
			items, err := iterate(x)
			if err != nil {
				return nil, err
			}
			out := make([]any, 0, len(items))
			if a, ok := kw.get("attribute"); ok {
				def, hasDef := kw.get("default")
				for _, it := range items {
					v, err := attrPath(it, a)
					if err != nil {
						return nil, err
					}
					if _, u := v.(undefined); u && hasDef {
						v = def
					}
					out = append(out, v)
				}
				return out, nil
			}
			if len(args) == 0 {
				return nil, &evalError{"FilterArgumentError", "map requires a filter argument"}
			}
			name := pyStr(args[0])
			f, ok := filters[name]
			if !ok {
				return nil, &evalError{"TemplateRuntimeError", fmt.Sprintf("No filter named '%s'.", name)}
			}
			for _, it := range items {
				v, err := f(r, it, args[1:], kw)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			return out, nil
		},
		"max": func(_ *renderer, x any, args []any, kw *dict) (any, error) { return minMax(x, args, kw, true) },
		"min": func(_ *renderer, x any, args []any, kw *dict) (any, error) { return minMax(x, args, kw, false) },
		"select": func(r *renderer, x any, args []any, kw *dict) (any, error) {
			return r.selectReject(x, args, kw, false, true)
		},
		"reject": func(r *renderer, x any, args []any, kw *dict) (any, error) {
			return r.selectReject(x, args, kw, false, false)
		},
		"selectattr": func(r *renderer, x any, args []any, kw *dict) (any, error) {
			return r.selectReject(x, args, kw, true, true)
		},
		"rejectattr": func(r *renderer, x any, args []any, kw *dict) (any, error) {
			return r.selectReject(x, args, kw, true, false)
		},
		"replace": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			n := int64(-1)
			if c := argAt(args, kw, 2, "count", nil); c != nil {
				n, _ = asInt(c)
			}
			return strings.Replace(pyStr(x), pyStr(argAt(args, kw, 0, "old", "")), pyStr(argAt(args, kw, 1, "new", "")), int(n)), nil
		},
		"reverse": func(_ *renderer, x any, _ []any, _ *dict) (any, error) {
			if s, ok := x.(string); ok {
				rs := []rune(s)
				for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
					rs[i], rs[j] = rs[j], rs[i]
				}
				return string(rs), nil
			}
			items, err := iterate(x)
			if err != nil {
				return nil, err
			}
			out := make([]any, len(items))
			for i, it := range items {
				out[len(items)-1-i] = it
			}
			return out, nil
		},
		"round": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			prec, _ := asInt(argAt(args, kw, 0, "precision", int64(0)))
			method := pyStr(argAt(args, kw, 1, "method", "common"))
			f := toFloat(x)
			p := math.Pow(10, float64(prec))
			switch method {
			case "ceil":
				return math.Ceil(f*p) / p, nil
			case "floor":
				return math.Floor(f*p) / p, nil
			}
			return math.RoundToEven(f*p) / p, nil
		},
		"safe": func(_ *renderer, x any, _ []any, _ *dict) (any, error) { return x, nil },
		"sort": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			items, err := iterate(x)
			if err != nil {
				return nil, err
			}
			items = append([]any{}, items...)
			rev := truthy(argAt(args, kw, 0, "reverse", false))
			cs := truthy(argAt(args, kw, 1, "case_sensitive", false))
			attr := argAt(args, kw, 2, "attribute", nil)
			var keyErr error
			err = sortBy(items, rev, func(v any) any {
				if attr != nil {
					var err error
					if v, err = attrPath(v, attr); err != nil {
						keyErr = err
					}
				}
				return caseKey(v, cs)
			})
			if keyErr != nil {
				return nil, keyErr
			}
			return items, err
		},
		"string": func(_ *renderer, x any, _ []any, _ *dict) (any, error) { return pyStr(x), nil },
		"sum": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			items, err := iterate(x)
			if err != nil {
				return nil, err
			}
			attr := argAt(args, kw, 0, "attribute", nil)
			total := argAt(args, kw, 1, "start", int64(0))
			for _, it := range items {
				if attr != nil {
					if it, err = attrPath(it, attr); err != nil {
						return nil, err
					}
				}
				if total, err = binOp("+", total, it); err != nil {
					return nil, err
				}
			}
			return total, nil
		},
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
		"tojson": filterToJSON,
		"trim": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			return pyStrip(pyStr(x), argAt(args, kw, 0, "chars", nil), true, true), nil
		},
		"unique": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			items, err := iterate(x)
			if err != nil {
				return nil, err
			}
			cs := truthy(argAt(args, kw, 0, "case_sensitive", false))
			attr := argAt(args, kw, 1, "attribute", nil)
			var out, seen []any
			for _, it := range items {
				k := it
				if attr != nil {
					if k, err = attrPath(it, attr); err != nil {
						return nil, err
					}
				}
				k = caseKey(k, cs)
				dup := false
				for _, s := range seen {
					if pyEqual(s, k) {
						dup = true
						break
					}
				}
				if !dup {
					seen = append(seen, k)
					out = append(out, it)
				}
			}
			return out, nil
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

func filterDefault(_ *renderer, x any, args []any, kw *dict) (any, error) {
	def := argAt(args, kw, 0, "default_value", "")
	boolean := truthy(argAt(args, kw, 1, "boolean", false))
	if _, ok := x.(undefined); ok || boolean && !truthy(x) {
		return def, nil
	}
	return x, nil
}

func filterEscape(_ *renderer, x any, _ []any, _ *dict) (any, error) {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(pyStr(x)), nil
}

func filterLength(_ *renderer, x any, _ []any, _ *dict) (any, error) {
	n, err := pyLen(x)
	return int64(n), err
}

// filterToJSON is transformers' tojson: json.dumps(x, ensure_ascii=False,
// indent=None, separators=None, sort_keys=False).
func filterToJSON(_ *renderer, x any, args []any, kw *dict) (any, error) {
	o := jsonOpts{itemSep: ", ", keySep: ": "}
	o.ensureASCII = truthy(argAt(args, kw, 0, "ensure_ascii", false))
	if ind := argAt(args, kw, 1, "indent", nil); ind != nil {
		var s string
		switch v := ind.(type) {
		case string:
			s = v
		default:
			n, ok := asInt(v)
			if !ok {
				return nil, typeErr("indent must be an int or a str")
			}
			s = strings.Repeat(" ", int(max(n, 0)))
		}
		o.indent = &s
		o.itemSep = ","
	}
	if sep := argAt(args, kw, 2, "separators", nil); sep != nil {
		parts, ok := asSeq(sep)
		if !ok || len(parts) != 2 {
			return nil, &evalError{"ValueError", "separators must be a pair of strings"}
		}
		o.itemSep, o.keySep = pyStr(parts[0]), pyStr(parts[1])
	}
	o.sortKeys = truthy(argAt(args, kw, 3, "sort_keys", false))
	return pyJSON(x, o)
}

func dictItems(d *dict) []any {
	out := make([]any, len(d.keys))
	for i, k := range d.keys {
		out[i] = tuple{k, d.m[k]}
	}
	return out
}

func caseKey(v any, caseSensitive bool) any {
	if s, ok := v.(string); ok && !caseSensitive {
		return strings.ToLower(s)
	}
	return v
}

func sortBy(items []any, reverse bool, key func(any) any) error {
	keys := make([]any, len(items))
	idx := make([]any, len(items))
	for i, it := range items {
		keys[i] = key(it)
		idx[i] = int64(i)
	}
	var err error
	sortValues(idx, func(a, b any) bool {
		ka, kb := keys[a.(int64)], keys[b.(int64)]
		if reverse {
			ka, kb = kb, ka
		}
		l, e := pyLess(ka, kb)
		if e != nil {
			err = e
		}
		return l
	})
	orig := append([]any{}, items...)
	for i, j := range idx {
		items[i] = orig[j.(int64)]
	}
	return err
}

// attrPath is Jinja's attribute lookup for filters: "a.b.0" walks items.
func attrPath(v any, attr any) (any, error) {
	s, ok := attr.(string)
	if !ok {
		return getItem(v, attr)
	}
	for _, part := range strings.Split(s, ".") {
		var key any = part
		if i, err := strconv.ParseInt(part, 10, 64); err == nil {
			key = i
		}
		var err error
		if v, err = getItem(v, key); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func minMax(x any, args []any, kw *dict, isMax bool) (any, error) {
	items, err := iterate(x)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return undefined{"No aggregated item, sequence was empty."}, nil
	}
	cs := truthy(argAt(args, kw, 0, "case_sensitive", false))
	attr := argAt(args, kw, 1, "attribute", nil)
	key := func(v any) (any, error) {
		if attr != nil {
			var err error
			if v, err = attrPath(v, attr); err != nil {
				return nil, err
			}
		}
		return caseKey(v, cs), nil
	}
	best := items[0]
	bk, err := key(best)
	if err != nil {
		return nil, err
	}
	for _, it := range items[1:] {
		k, err := key(it)
		if err != nil {
			return nil, err
		}
		var better bool
		if isMax {
			better, err = pyLess(bk, k)
		} else {
			better, err = pyLess(k, bk)
		}
		if err != nil {
			return nil, err
		}
		if better {
			best, bk = it, k
		}
	}
	return best, nil
}

func (r *renderer) selectReject(x any, args []any, kw *dict, byAttr, keep bool) (any, error) {
	items, err := iterate(x)
	if err != nil {
		return nil, err
	}
	var attr any
	if byAttr {
		if len(args) == 0 {
			return nil, typeErr("missing attribute argument")
		}
		attr, args = args[0], args[1:]
	}
	var out []any
	for _, it := range items {
		v := it
		if byAttr {
			if v, err = attrPath(it, attr); err != nil {
				return nil, err
			}
		}
		var ok bool
		if len(args) == 0 {
			ok = truthy(v)
		} else {
			res, err := r.applyTest(pyStr(args[0]), v, args[1:], newDict())
			if err != nil {
				return nil, err
			}
			ok = res.(bool)
		}
		if ok == keep {
			out = append(out, it)
		}
	}
	if out == nil {
		out = []any{}
	}
	return out, nil
}

func (r *renderer) applyFilter(f *filterExpr, x any, s *scope) (any, error) {
	args, kw, err := r.evalArgs(f.args, f.kwkeys, f.kwvals, s)
	if err != nil {
		return nil, err
	}
	fn, ok := filters[f.name]
	if !ok {
		return nil, &evalError{"TemplateAssertionError", fmt.Sprintf("No filter named '%s'.", f.name)}
	}
	switch f.name {
	case "default", "d", "length", "count", "list", "items", "join", "string", "lower", "upper", "trim",
		"first", "last", "capitalize", "title", "escape", "e", "safe", "wordcount", "indent", "replace", "reverse",
		"map", "select", "reject", "selectattr", "rejectattr", "unique", "sort", "sum", "min", "max":
	default:
		if err := checkUndefined(x); err != nil {
			return nil, err
		}
	}
	return fn(r, x, args, kw)
}

func (r *renderer) applyTest(name string, x any, args []any, kw *dict) (any, error) {
	arg := func() (any, error) {
		v := argAt(args, kw, 0, "other", nil)
		if len(args) == 0 && (kw == nil || kw.len() == 0) {
			return nil, typeErr("test '%s' needs an argument", name)
		}
		return v, nil
	}
	cmp := func(op string) (any, error) {
		o, err := arg()
		if err != nil {
			return nil, err
		}
		return compare(op, x, o)
	}
	switch name {
	case "defined":
		_, u := x.(undefined)
		return !u, nil
	case "undefined":
		_, u := x.(undefined)
		return u, nil
	case "none":
		return x == nil, nil
	case "string":
		_, ok := x.(string)
		return ok, nil
	case "mapping":
		_, ok := x.(*dict)
		return ok, nil
	case "iterable":
		switch x.(type) {
		case undefined, string, []any, tuple, *dict, *loopCtx:
			return true, nil
		}
		return false, nil
	case "sequence":
		switch x.(type) {
		case undefined, string, []any, tuple, *dict:
			return true, nil
		}
		return false, nil
	case "number":
		return isNumber(x), nil
	case "integer":
		_, ok := x.(int64)
		return ok, nil
	case "float":
		_, ok := x.(float64)
		return ok, nil
	case "boolean":
		_, ok := x.(bool)
		return ok, nil
	case "true":
		return x == true, nil
	case "false":
		return x == false, nil
	case "callable":
		_, ok := x.(*function)
		return ok, nil
	case "odd", "even":
		i, ok := asInt(x)
		if !ok {
			return nil, typeErr("not all arguments converted during string formatting")
		}
		return (i%2 != 0) == (name == "odd"), nil
	case "divisibleby":
		o, err := arg()
		if err != nil {
			return nil, err
		}
		m, err := binOp("%", x, o)
		if err != nil {
			return nil, err
		}
		return pyEqual(m, int64(0)), nil
	case "eq", "equalto", "==":
		return cmp("==")
	case "ne", "!=":
		return cmp("!=")
	case "lt", "lessthan", "<":
		return cmp("<")
	case "le", "<=":
		return cmp("<=")
	case "gt", "greaterthan", ">":
		return cmp(">")
	case "ge", ">=":
		return cmp(">=")
	case "in":
		o, err := arg()
		if err != nil {
			return nil, err
		}
		return contains(o, x)
	case "sameas":
		o, err := arg()
		if err != nil {
			return nil, err
		}
		switch x.(type) {
		case nil, bool, undefined:
			return x == o, nil
		}
		return pyEqual(x, o) && typeName(x) == typeName(o), nil
	case "lower":
		s := pyStr(x)
		return s == strings.ToLower(s), nil
	case "upper":
		s := pyStr(x)
		return s == strings.ToUpper(s), nil
	case "escaped":
		return false, nil
	case "filter":
		_, ok := filters[pyStr(x)]
		return ok, nil
	case "test":
		_, err := r.applyTest(pyStr(x), nil, []any{nil}, nil)
		return err == nil || !strings.Contains(err.Error(), "No test named"), nil
	}
	return nil, &evalError{"TemplateAssertionError", fmt.Sprintf("No test named '%s'.", name)}
}

func pyCapitalize(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + strings.ToLower(s[n:])
}

// pyStrip is str.strip/lstrip/rstrip(chars).
func pyStrip(s string, chars any, left, right bool) string {
	f := isPySpace
	if c, ok := chars.(string); ok {
		f = func(r rune) bool { return strings.ContainsRune(c, r) }
	}
	if left {
		s = strings.TrimLeftFunc(s, f)
	}
	if right {
		s = strings.TrimRightFunc(s, f)
	}
	return s
}

// pySplitLines is str.splitlines().
func pySplitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\r':
			out = append(out, s[start:i])
			if i+1 < len(s) && s[i+1] == '\n' {
				n = 2
			}
			start = i + n
		case '\n', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			out = append(out, s[start:i])
			start = i + n
		}
		i += n
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// pySplit is str.split(sep, maxsplit); sep nil splits on runs of whitespace.
func pySplit(s string, sep any, maxsplit int) ([]any, error) {
	var parts []string
	if sep == nil {
		rest := strings.TrimLeftFunc(s, isPySpace)
		for rest != "" {
			if maxsplit >= 0 && len(parts) == maxsplit {
				parts = append(parts, rest)
				break
			}
			i := strings.IndexFunc(rest, isPySpace)
			if i < 0 {
				parts = append(parts, rest)
				break
			}
			parts = append(parts, rest[:i])
			rest = strings.TrimLeftFunc(rest[i:], isPySpace)
		}
	} else {
		sp, ok := sep.(string)
		if !ok {
			return nil, typeErr("must be str or None, not %s", typeName(sep))
		}
		if sp == "" {
			return nil, &evalError{"ValueError", "empty separator"}
		}
		parts = strings.SplitN(s, sp, maxsplit+1)
		if maxsplit < 0 {
			parts = strings.Split(s, sp)
		}
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func pyRsplit(s string, sep any, maxsplit int) ([]any, error) {
	if maxsplit < 0 {
		return pySplit(s, sep, -1)
	}
	if sep == nil {
		var parts []string
		rest := strings.TrimRightFunc(s, isPySpace)
		for rest != "" {
			if len(parts) == maxsplit {
				parts = append(parts, rest)
				break
			}
			i := strings.LastIndexFunc(rest, isPySpace)
			if i < 0 {
				parts = append(parts, rest)
				break
			}
			_, n := utf8.DecodeRuneInString(rest[i:])
			parts = append(parts, rest[i+n:])
			rest = strings.TrimRightFunc(rest[:i], isPySpace)
		}
		out := make([]any, len(parts))
		for i, p := range parts {
			out[len(parts)-1-i] = p
		}
		return out, nil
	}
	sp, ok := sep.(string)
	if !ok || sp == "" {
		return pySplit(s, sep, maxsplit)
	}
	var parts []string
	rest := s
	for len(parts) < maxsplit {
		i := strings.LastIndex(rest, sp)
		if i < 0 {
			break
		}
		parts = append(parts, rest[i+len(sp):])
		rest = rest[:i]
	}
	parts = append(parts, rest)
	out := make([]any, len(parts))
	for i, p := range parts {
		out[len(parts)-1-i] = p
	}
	return out, nil
}

func unsafeMethod(obj any, name string) *function {
	return &function{name: name, call: func(*renderer, []any, *dict) (any, error) {
		return nil, &evalError{"SecurityError", fmt.Sprintf("access to attribute '%s' of '%s' object is unsafe.", name, typeName(obj))}
	}}
}

func fn(name string, f func(args []any, kw *dict) (any, error)) *function {
	return &function{name: name, call: func(_ *renderer, args []any, kw *dict) (any, error) { return f(args, kw) }}
}

// method is the bound Python method obj.name, or nil.
func method(obj any, name string) *function {
	switch x := obj.(type) {
	case string:
		return strMethod(x, name)
	case *dict:
		switch name {
		case "get":
			return fn(name, func(args []any, kw *dict) (any, error) {
				if len(args) == 0 {
					return nil, typeErr("get expected at least 1 argument, got 0")
				}
				if v, ok := x.get(args[0]); ok {
					return v, nil
				}
				return argAt(args, nil, 1, "", nil), nil
			})
		case "items":
			return fn(name, func([]any, *dict) (any, error) { return dictItems(x), nil })
		case "keys":
			return fn(name, func([]any, *dict) (any, error) { return append([]any{}, x.keys...), nil })
		case "values":
			return fn(name, func([]any, *dict) (any, error) {
				out := make([]any, len(x.keys))
				for i, k := range x.keys {
					out[i] = x.m[k]
				}
				return out, nil
			})
		case "copy":
			return fn(name, func([]any, *dict) (any, error) {
				d := newDict()
				for _, k := range x.keys {
					d.set(k, x.m[k])
				}
				return d, nil
			})
		case "pop", "popitem", "update", "setdefault", "clear", "fromkeys":
			return unsafeMethod(obj, name)
		}
	case []any, tuple:
		seq, _ := asSeq(x)
		switch name {
		case "index":
			return fn(name, func(args []any, kw *dict) (any, error) {
				for i, it := range seq {
					if len(args) > 0 && pyEqual(it, args[0]) {
						return int64(i), nil
					}
				}
				return nil, &evalError{"ValueError", "value is not in list"}
			})
		case "count":
			return fn(name, func(args []any, kw *dict) (any, error) {
				n := int64(0)
				for _, it := range seq {
					if len(args) > 0 && pyEqual(it, args[0]) {
						n++
					}
				}
				return n, nil
			})
		case "copy":
			if _, ok := x.([]any); ok {
				return fn(name, func([]any, *dict) (any, error) { return append([]any{}, seq...), nil })
			}
		case "append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear":
			if _, ok := x.([]any); ok {
				return unsafeMethod(obj, name)
			}
		}
	}
	return nil
}

func strMethod(s string, name string) *function {
	intArg := func(args []any, kw *dict, i int, key string, def int) int {
		v := argAt(args, kw, i, key, nil)
		if n, ok := asInt(v); ok {
			return int(n)
		}
		return def
	}
	switch name {
	case "strip", "lstrip", "rstrip":
		return fn(name, func(args []any, kw *dict) (any, error) {
			return pyStrip(s, argAt(args, kw, 0, "chars", nil), name != "rstrip", name != "lstrip"), nil
		})
	case "split", "rsplit":
		return fn(name, func(args []any, kw *dict) (any, error) {
			sep := argAt(args, kw, 0, "sep", nil)
			n := intArg(args, kw, 1, "maxsplit", -1)
			if name == "rsplit" {
				return pyRsplit(s, sep, n)
			}
			return pySplit(s, sep, n)
		})
	case "splitlines":
		return fn(name, func([]any, *dict) (any, error) {
			lines := pySplitLines(s)
			out := make([]any, len(lines))
			for i, l := range lines {
				out[i] = l
			}
			return out, nil
		})
	case "replace":
		return fn(name, func(args []any, kw *dict) (any, error) {
			if len(args) < 2 {
				return nil, typeErr("replace expected at least 2 arguments, got %d", len(args))
			}
			return strings.Replace(s, pyStr(args[0]), pyStr(args[1]), intArg(args, kw, 2, "count", -1)), nil
		})
	case "startswith", "endswith":
		return fn(name, func(args []any, kw *dict) (any, error) {
			if len(args) == 0 {
				return nil, typeErr("%s takes at least 1 argument (0 given)", name)
			}
			cands := []any{args[0]}
			if t, ok := asSeq(args[0]); ok {
				cands = t
			}
			for _, c := range cands {
				cs, ok := c.(string)
				if !ok {
					return nil, typeErr("%s first arg must be str or a tuple of str, not %s", name, typeName(c))
				}
				if name == "startswith" && strings.HasPrefix(s, cs) || name == "endswith" && strings.HasSuffix(s, cs) {
					return true, nil
				}
			}
			return false, nil
		})
	case "upper":
		return fn(name, func([]any, *dict) (any, error) { return strings.ToUpper(s), nil })
	case "lower":
		return fn(name, func([]any, *dict) (any, error) { return strings.ToLower(s), nil })
	case "capitalize":
		return fn(name, func([]any, *dict) (any, error) { return pyCapitalize(s), nil })
	case "title":
		return fn(name, func([]any, *dict) (any, error) {
			var b strings.Builder
			prevLetter := false
			for _, r := range s {
				if prevLetter {
					b.WriteRune(unicode.ToLower(r))
				} else {
					b.WriteRune(unicode.ToTitle(r))
				}
				prevLetter = unicode.IsLetter(r)
			}
			return b.String(), nil
		})
	case "find", "rfind", "index", "rindex", "count":
		return fn(name, func(args []any, kw *dict) (any, error) {
			if len(args) == 0 {
				return nil, typeErr("%s takes at least 1 argument (0 given)", name)
			}
			sub, ok := args[0].(string)
			if !ok {
				return nil, typeErr("must be str, not %s", typeName(args[0]))
			}
			var i int
			switch name {
			case "count":
				if sub == "" {
					return int64(utf8.RuneCountInString(s) + 1), nil
				}
				return int64(strings.Count(s, sub)), nil
			case "find", "index":
				i = strings.Index(s, sub)
			default:
				i = strings.LastIndex(s, sub)
			}
			if i < 0 {
				if name == "index" || name == "rindex" {
					return nil, &evalError{"ValueError", "substring not found"}
				}
				return int64(-1), nil
			}
			return int64(utf8.RuneCountInString(s[:i])), nil
		})
	case "join":
		return fn(name, func(args []any, kw *dict) (any, error) {
			if len(args) == 0 {
				return nil, typeErr("join() takes exactly one argument (0 given)")
			}
			items, err := iterate(args[0])
			if err != nil {
				return nil, err
			}
			parts := make([]string, len(items))
			for i, it := range items {
				str, ok := it.(string)
				if !ok {
					return nil, typeErr("sequence item %d: expected str instance, %s found", i, typeName(it))
				}
				parts[i] = str
			}
			return strings.Join(parts, s), nil
		})
	case "isdigit", "isnumeric", "isdecimal", "isalpha", "isalnum", "isspace", "isupper", "islower":
		return fn(name, func([]any, *dict) (any, error) {
			if s == "" {
				return false, nil
			}
			cased := false
			for _, r := range s {
				var ok bool
				switch name {
				case "isdigit", "isnumeric", "isdecimal":
					ok = unicode.IsDigit(r)
				case "isalpha":
					ok = unicode.IsLetter(r)
				case "isalnum":
					ok = unicode.IsLetter(r) || unicode.IsDigit(r)
				case "isspace":
					ok = isPySpace(r)
				case "isupper":
					ok = !unicode.IsLower(r)
					cased = cased || unicode.IsUpper(r)
				case "islower":
					ok = !unicode.IsUpper(r)
					cased = cased || unicode.IsLower(r)
				}
				if !ok {
					return false, nil
				}
			}
			if name == "isupper" || name == "islower" {
				return cased, nil
			}
			return true, nil
		})
	case "format":
		return fn(name, func(args []any, kw *dict) (any, error) { return strFormat(s, args, kw) })
	case "zfill":
		return fn(name, func(args []any, kw *dict) (any, error) {
			w := intArg(args, kw, 0, "width", 0)
			n := utf8.RuneCountInString(s)
			if n >= w {
				return s, nil
			}
			sign := ""
			rest := s
			if rest != "" && (rest[0] == '-' || rest[0] == '+') {
				sign, rest = rest[:1], rest[1:]
			}
			return sign + strings.Repeat("0", w-n) + rest, nil
		})
	}
	return nil
}

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
			pad := strings.Repeat(" ", w-utf8.RuneCountInString(body))
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
