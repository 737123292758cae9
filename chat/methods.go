package chat

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

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
			return strValues(pySplitLines(s)), nil
		})
	case "replace":
		return fn(name, func(args []any, kw *dict) (any, error) {
			if len(args) < 2 {
				return nil, typeErr("replace expected at least 2 arguments, got %d", len(args))
			}
			return replaceString(s, pyStr(args[0]), pyStr(args[1]), intArg(args, kw, 2, "count", -1))
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
			return joinStrings(parts, s)
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
			zeros, err := repeatString("0", int64(w-n))
			if err != nil {
				return nil, err
			}
			return sign + zeros + rest, nil
		})
	}
	return nil
}
