package chat

import (
	"fmt"
	"strconv"
	"strings"
)

// sequenceFilters are the filters of sequences and mappings.
func sequenceFilters() map[string]filterFunc {
	return map[string]filterFunc{
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
				if it, err = attrOf(it, attr); err != nil {
					return nil, err
				}
				parts[i] = pyStr(it)
			}
			return joinStrings(parts, sep)
		},
		"length": filterLength,
		"count":  filterLength,
		"list": func(_ *renderer, x any, _ []any, _ *dict) (any, error) {
			items, err := iterate(x)
			return append([]any{}, items...), err
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
				v, err := attrOf(v, attr)
				if err != nil {
					keyErr = err
				}
				return caseKey(v, cs)
			})
			if keyErr != nil {
				return nil, keyErr
			}
			return items, err
		},
		"sum": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			items, err := iterate(x)
			if err != nil {
				return nil, err
			}
			attr := argAt(args, kw, 0, "attribute", nil)
			total := argAt(args, kw, 1, "start", int64(0))
			for _, it := range items {
				if it, err = attrOf(it, attr); err != nil {
					return nil, err
				}
				if total, err = binOp("+", total, it); err != nil {
					return nil, err
				}
			}
			return total, nil
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
				k, err := attrOf(it, attr)
				if err != nil {
					return nil, err
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
	}
}

func filterLength(_ *renderer, x any, _ []any, _ *dict) (any, error) {
	n, err := pyLen(x)
	return int64(n), err
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

// attrOf is attrPath(v, attr), or v itself when attr is nil: the item a filter's
// optional attribute argument picks.
func attrOf(v, attr any) (any, error) {
	if attr == nil {
		return v, nil
	}
	return attrPath(v, attr)
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
		v, err := attrOf(v, attr)
		if err != nil {
			return nil, err
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
