package chat

import (
	"fmt"
	"reflect"
	"strings"
)

func pyEqual(a, b any) bool {
	if isNumber(a) && isNumber(b) {
		ai, aok := asInt(a)
		bi, bok := asInt(b)
		if aok && bok {
			return ai == bi
		}
		return toFloat(a) == toFloat(b)
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case undefined:
		_, ok := b.(undefined)
		return ok
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		return ok && seqEqual(x, y)
	case tuple:
		y, ok := b.(tuple)
		return ok && seqEqual(x, y)
	case *dict:
		y, ok := b.(*dict)
		if !ok || x.len() != y.len() {
			return false
		}
		for _, k := range x.keys {
			w, ok := y.get(k)
			if !ok || !pyEqual(x.m[k], w) {
				return false
			}
		}
		return true
	}
	return a == b
}

func seqEqual(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !pyEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

// pyLess is a < b, or a TypeError where Python has no ordering.
func pyLess(a, b any) (bool, error) {
	if _, ok := a.(undefined); ok {
		return false, a.(undefined).err()
	}
	if _, ok := b.(undefined); ok {
		return false, b.(undefined).err()
	}
	if isNumber(a) && isNumber(b) {
		ai, aok := asInt(a)
		bi, bok := asInt(b)
		if aok && bok {
			return ai < bi, nil
		}
		return toFloat(a) < toFloat(b), nil
	}
	if x, ok := a.(string); ok {
		if y, ok := b.(string); ok {
			return x < y, nil
		}
	}
	xs, xok := asSeq(a)
	ys, yok := asSeq(b)
	if xok && yok && reflect.TypeOf(a) == reflect.TypeOf(b) {
		for i := 0; i < len(xs) && i < len(ys); i++ {
			if !pyEqual(xs[i], ys[i]) {
				return pyLess(xs[i], ys[i])
			}
		}
		return len(xs) < len(ys), nil
	}
	return false, typeErr("'<' not supported between instances of '%s' and '%s'", typeName(a), typeName(b))
}

// sortValues is a stable insertion-free sort by less (a merge sort, stable as Python's).
func sortValues(xs []any, less func(a, b any) bool) {
	if len(xs) < 2 {
		return
	}
	mid := len(xs) / 2
	l := append([]any(nil), xs[:mid]...)
	r := append([]any(nil), xs[mid:]...)
	sortValues(l, less)
	sortValues(r, less)
	i, j, k := 0, 0, 0
	for i < len(l) && j < len(r) {
		if less(r[j], l[i]) {
			xs[k] = r[j]
			j++
		} else {
			xs[k] = l[i]
			i++
		}
		k++
	}
	for ; i < len(l); i++ {
		xs[k] = l[i]
		k++
	}
	for ; j < len(r); j++ {
		xs[k] = r[j]
		k++
	}
}

func compare(op string, l, r any) (bool, error) {
	switch op {
	case "==":
		return pyEqual(l, r), nil
	case "!=":
		return !pyEqual(l, r), nil
	case "<":
		return pyLess(l, r)
	case ">":
		return pyLess(r, l)
	case "<=":
		lt, err := pyLess(l, r)
		return lt || err == nil && pyEqual(l, r), err
	case ">=":
		lt, err := pyLess(r, l)
		return lt || err == nil && pyEqual(l, r), err
	case "in":
		return contains(r, l)
	case "not in":
		c, err := contains(r, l)
		return !c, err
	}
	return false, fmt.Errorf("unknown operator %s", op)
}

// contains is Python's x in container.
func contains(container, x any) (bool, error) {
	switch c := container.(type) {
	case string:
		s, ok := x.(string)
		if !ok {
			if u, isU := x.(undefined); isU {
				return false, u.err()
			}
			return false, typeErr("'in <string>' requires string as left operand, not %s", typeName(x))
		}
		return strings.Contains(c, s), nil
	case *dict:
		_, ok := c.get(x)
		return ok, nil
	case undefined:
		return false, nil
	}
	items, err := iterate(container)
	if err != nil {
		return false, typeErr("argument of type '%s' is not iterable", typeName(container))
	}
	for _, it := range items {
		if pyEqual(it, x) {
			return true, nil
		}
	}
	return false, nil
}
