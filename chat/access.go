package chat

import "fmt"

func sliceValue(obj, start, stop, step any) (any, error) {
	var items []any
	var str []rune
	switch x := obj.(type) {
	case []any:
		items = x
	case tuple:
		items = x
	case string:
		str = []rune(x)
	case undefined:
		return nil, x.err()
	default:
		return nil, typeErr("'%s' object is not subscriptable", typeName(obj))
	}
	_, isStr := obj.(string)
	n := len(items)
	if isStr {
		n = len(str)
	}
	idx := func(v any, def int) (int, error) {
		if v == nil {
			return def, nil
		}
		i, ok := asInt(v)
		if !ok {
			return 0, typeErr("slice indices must be integers or None")
		}
		return int(i), nil
	}
	st, err := idx(step, 1)
	if err != nil {
		return nil, err
	}
	if st == 0 {
		return nil, &evalError{"ValueError", "slice step cannot be zero"}
	}
	var lo, hi int
	if st > 0 {
		lo, hi = 0, n
	} else {
		lo, hi = n-1, -1
	}
	clamp := func(i int) int {
		if i < 0 {
			i += n
			if i < 0 {
				if st > 0 {
					return 0
				}
				return -1
			}
		}
		if i >= n {
			if st > 0 {
				return n
			}
			return n - 1
		}
		return i
	}
	if start != nil {
		v, err := idx(start, 0)
		if err != nil {
			return nil, err
		}
		lo = clamp(v)
	}
	if stop != nil {
		v, err := idx(stop, 0)
		if err != nil {
			return nil, err
		}
		hi = clamp(v)
	}
	var picked []int
	if st > 0 {
		for i := lo; i < hi; i += st {
			picked = append(picked, i)
		}
	} else {
		for i := lo; i > hi; i += st {
			picked = append(picked, i)
		}
	}
	if isStr {
		out := make([]rune, len(picked))
		for k, i := range picked {
			out[k] = str[i]
		}
		return string(out), nil
	}
	out := make([]any, len(picked))
	for k, i := range picked {
		out[k] = items[i]
	}
	if _, ok := obj.(tuple); ok {
		return tuple(out), nil
	}
	return out, nil
}

// getAttr is Jinja's obj.name: a Python attribute (method) first, then an item.
func getAttr(obj any, name string) (any, error) {
	switch x := obj.(type) {
	case undefined:
		return nil, x.err()
	case *namespace:
		if v, ok := x.attrs.get(name); ok {
			return v, nil
		}
	case *loopCtx:
		return x.attr(name), nil
	}
	if m := method(obj, name); m != nil {
		return m, nil
	}
	if d, ok := obj.(*dict); ok {
		if v, ok := d.get(name); ok {
			return v, nil
		}
	}
	return undefined{fmt.Sprintf("'%s' has no attribute '%s'", objDesc(obj), name)}, nil
}

// getItem is Jinja's obj[key]: an item first, then an attribute.
func getItem(obj any, key any) (any, error) {
	switch x := obj.(type) {
	case undefined:
		return nil, x.err()
	case *dict:
		if v, ok := x.get(key); ok {
			return v, nil
		}
	case []any, tuple, string:
		if i, ok := asInt(key); ok {
			var n int
			var s []rune
			if str, ok := x.(string); ok {
				s = []rune(str)
				n = len(s)
			} else {
				seq, _ := asSeq(x)
				n = len(seq)
			}
			j := int(i)
			if j < 0 {
				j += n
			}
			if j >= 0 && j < n {
				if s != nil {
					return string(s[j]), nil
				}
				seq, _ := asSeq(x)
				return seq[j], nil
			}
		}
	}
	if name, ok := key.(string); ok {
		return getAttr(obj, name)
	}
	return undefined{fmt.Sprintf("'%s' has no attribute %s", objDesc(obj), pyRepr(key))}, nil
}

func objDesc(obj any) string {
	switch obj.(type) {
	case *dict:
		return "dict object"
	case []any:
		return "list object"
	case string:
		return "str object"
	}
	return typeName(obj) + " object"
}
