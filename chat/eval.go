package chat

import (
	"fmt"
	"math"
	"strings"
)

func (r *renderer) eval(e expr, s *scope) (any, error) {
	switch e := e.(type) {
	case *constExpr:
		return e.v, nil
	case *nameExpr:
		if v, ok := s.lookup(e.name); ok {
			return v, nil
		}
		return undefined{fmt.Sprintf("'%s' is undefined", e.name)}, nil
	case *listExpr:
		items, err := r.evalAll(e.items, s)
		if err != nil {
			return nil, err
		}
		return items, nil
	case *tupleExpr:
		items, err := r.evalAll(e.items, s)
		if err != nil {
			return nil, err
		}
		return tuple(items), nil
	case *dictExpr:
		d := newDict()
		for i := range e.keys {
			k, err := r.eval(e.keys[i], s)
			if err != nil {
				return nil, err
			}
			if !hashable(k) {
				return nil, typeErr("unhashable type: '%s'", typeName(k))
			}
			v, err := r.eval(e.vals[i], s)
			if err != nil {
				return nil, err
			}
			d.set(k, v)
		}
		return d, nil
	case *attrExpr:
		obj, err := r.eval(e.obj, s)
		if err != nil {
			return nil, err
		}
		return getAttr(obj, e.name)
	case *itemExpr:
		obj, err := r.eval(e.obj, s)
		if err != nil {
			return nil, err
		}
		if sl, ok := e.key.(*sliceExpr); ok {
			return r.evalSlice(obj, sl, s)
		}
		k, err := r.eval(e.key, s)
		if err != nil {
			return nil, err
		}
		return getItem(obj, k)
	case *callExpr:
		fn, err := r.eval(e.fn, s)
		if err != nil {
			return nil, err
		}
		args, kw, err := r.evalArgs(e.args, e.kwkeys, e.kwvals, s)
		if err != nil {
			return nil, err
		}
		return r.call(fn, args, kw)
	case *filterExpr:
		x, err := r.eval(e.x, s)
		if err != nil {
			return nil, err
		}
		return r.applyFilter(e, x, s)
	case *testExpr:
		x, err := r.eval(e.x, s)
		if err != nil {
			return nil, err
		}
		args, kw, err := r.evalArgs(e.args, e.kwkeys, e.kwvals, s)
		if err != nil {
			return nil, err
		}
		return r.applyTest(e.name, x, args, kw)
	case *unaryExpr:
		x, err := r.eval(e.x, s)
		if err != nil {
			return nil, err
		}
		if u, ok := x.(undefined); ok {
			return nil, u.err()
		}
		if i, ok := asInt(x); ok {
			if e.op == "-" {
				if i == math.MinInt64 {
					return nil, overflowError("-")
				}
				return -i, nil
			}
			return i, nil
		}
		if f, ok := x.(float64); ok {
			if e.op == "-" {
				return -f, nil
			}
			return f, nil
		}
		return nil, typeErr("bad operand type for unary %s: '%s'", e.op, typeName(x))
	case *binExpr:
		l, err := r.eval(e.l, s)
		if err != nil {
			return nil, err
		}
		rv, err := r.eval(e.r, s)
		if err != nil {
			return nil, err
		}
		return binOp(e.op, l, rv)
	case *concatExpr:
		var b strings.Builder
		for _, p := range e.parts {
			v, err := r.eval(p, s)
			if err != nil {
				return nil, err
			}
			b.WriteString(pyStr(v))
			if err := checkString(b.Len()); err != nil {
				return nil, err
			}
		}
		return b.String(), nil
	case *compareExpr:
		l, err := r.eval(e.first, s)
		if err != nil {
			return nil, err
		}
		for i, op := range e.ops {
			rv, err := r.eval(e.rest[i], s)
			if err != nil {
				return nil, err
			}
			ok, err := compare(op, l, rv)
			if err != nil {
				return nil, err
			}
			if !ok {
				return false, nil
			}
			l = rv
		}
		return true, nil
	case *andExpr:
		l, err := r.eval(e.l, s)
		if err != nil || !truthy(l) {
			return l, err
		}
		return r.eval(e.r, s)
	case *orExpr:
		l, err := r.eval(e.l, s)
		if err != nil || truthy(l) {
			return l, err
		}
		return r.eval(e.r, s)
	case *notExpr:
		x, err := r.eval(e.x, s)
		if err != nil {
			return nil, err
		}
		return !truthy(x), nil
	case *condExpr:
		t, err := r.eval(e.test, s)
		if err != nil {
			return nil, err
		}
		if truthy(t) {
			return r.eval(e.a, s)
		}
		if e.b == nil {
			return undefined{"the inline if-expression evaluated to false and no else section was defined."}, nil
		}
		return r.eval(e.b, s)
	case *sliceExpr:
		return nil, fmt.Errorf("slice outside a subscript")
	}
	return nil, fmt.Errorf("unknown expression %T", e)
}

func (r *renderer) evalSlice(obj any, sl *sliceExpr, s *scope) (any, error) {
	var bounds [3]any
	for i, x := range []expr{sl.start, sl.stop, sl.step} {
		if x == nil {
			continue
		}
		v, err := r.eval(x, s)
		if err != nil {
			return nil, err
		}
		bounds[i] = v
	}
	return sliceValue(obj, bounds[0], bounds[1], bounds[2])
}
