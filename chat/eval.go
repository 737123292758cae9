package chat

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

type scope struct {
	vars   map[string]any
	parent *scope
}

func (s *scope) lookup(name string) (any, bool) {
	for ; s != nil; s = s.parent {
		if v, ok := s.vars[name]; ok {
			return v, true
		}
	}
	return nil, false
}

type renderer struct {
	out  *strings.Builder
	now  time.Time
	rt   *scope
	deep int
}

var (
	errBreak    = errors.New("break outside a loop")
	errContinue = errors.New("continue outside a loop")
)

func (r *renderer) renderBody(body []node, s *scope) error {
	for _, n := range body {
		if err := r.renderNode(n, s); err != nil {
			return err
		}
	}
	return nil
}

func (r *renderer) renderNode(n node, s *scope) error {
	switch n := n.(type) {
	case *textNode:
		r.out.WriteString(n.text)
	case *outputNode:
		v, err := r.eval(n.expr, s)
		if err != nil {
			return err
		}
		r.out.WriteString(pyStr(v))
	case *ifNode:
		for i, c := range n.conds {
			v, err := r.eval(c, s)
			if err != nil {
				return err
			}
			if truthy(v) {
				return r.renderBody(n.bodies[i], s)
			}
		}
		return r.renderBody(n.orelse, s)
	case *forNode:
		return r.renderFor(n, s)
	case *setNode:
		return r.renderSet(n, s)
	case *macroNode:
		s.vars[n.name] = r.macroFunc(n.m, s, nil)
	case *callBlockNode:
		caller := r.macroFunc(&macroDef{name: "caller", params: n.params, body: n.body}, s, nil)
		fn, err := r.eval(n.call.fn, s)
		if err != nil {
			return err
		}
		args, kw, err := r.evalArgs(n.call.args, n.call.kwkeys, n.call.kwvals, s)
		if err != nil {
			return err
		}
		kw.set("caller", caller)
		v, err := r.call(fn, args, kw)
		if err != nil {
			return err
		}
		r.out.WriteString(pyStr(v))
	case *filterBlockNode:
		text, err := r.capture(n.body, s)
		if err != nil {
			return err
		}
		var v any = text
		for _, f := range n.filts {
			if v, err = r.applyFilter(f, v, s); err != nil {
				return err
			}
		}
		r.out.WriteString(pyStr(v))
	case *breakNode:
		return errBreak
	case *continueNode:
		return errContinue
	case *blockNode:
		return r.renderBody(n.body, s)
	default:
		return fmt.Errorf("unknown node %T", n)
	}
	return nil
}

func (r *renderer) capture(body []node, s *scope) (string, error) {
	saved := r.out
	var b strings.Builder
	r.out = &b
	err := r.renderBody(body, s)
	r.out = saved
	return b.String(), err
}

func (r *renderer) renderFor(n *forNode, s *scope) error {
	seqv, err := r.eval(n.iter, s)
	if err != nil {
		return err
	}
	items, err := iterate(seqv)
	if err != nil {
		return err
	}
	ls := &scope{vars: map[string]any{}, parent: s}
	bind := func(item any) error {
		if len(n.targets) == 1 {
			ls.vars[n.targets[0]] = item
			return nil
		}
		parts, err := iterate(item)
		if err != nil {
			return err
		}
		if len(parts) != len(n.targets) {
			if len(parts) > len(n.targets) {
				return &evalError{"ValueError", fmt.Sprintf("too many values to unpack (expected %d)", len(n.targets))}
			}
			return &evalError{"ValueError", fmt.Sprintf("not enough values to unpack (expected %d, got %d)", len(n.targets), len(parts))}
		}
		for i, t := range n.targets {
			ls.vars[t] = parts[i]
		}
		return nil
	}
	if n.filter != nil {
		var kept []any
		for _, it := range items {
			if err := bind(it); err != nil {
				return err
			}
			v, err := r.eval(n.filter, ls)
			if err != nil {
				return err
			}
			if truthy(v) {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	if len(items) == 0 {
		return r.renderBody(n.orelse, &scope{vars: map[string]any{}, parent: s})
	}
	loop := &loopCtx{items: items}
	for i, it := range items {
		loop.index0 = i
		// Each iteration starts from the enclosing scope: what one iteration sets
		// is gone in the next, as in Jinja.
		ls = &scope{vars: map[string]any{}, parent: s}
		if err := bind(it); err != nil {
			return err
		}
		ls.vars["loop"] = loop
		err := r.renderBody(n.body, ls)
		if err == errBreak {
			break
		}
		if err != nil && err != errContinue {
			return err
		}
	}
	return nil
}

func (r *renderer) renderSet(n *setNode, s *scope) error {
	var v any
	var err error
	if n.body != nil {
		text, err := r.capture(n.body, s)
		if err != nil {
			return err
		}
		v = text
		for _, f := range n.filts {
			if v, err = r.applyFilter(f, v, s); err != nil {
				return err
			}
		}
	} else if v, err = r.eval(n.value, s); err != nil {
		return err
	}
	if n.attr != "" {
		obj, ok := s.lookup(n.ns)
		ns, isNS := obj.(*namespace)
		if !ok || !isNS {
			return &evalError{"TemplateRuntimeError", "cannot assign attribute on non-namespace object"}
		}
		ns.attrs.set(n.attr, v)
		return nil
	}
	if len(n.names) == 1 {
		s.vars[n.names[0]] = v
		return nil
	}
	parts, err := iterate(v)
	if err != nil {
		return err
	}
	if len(parts) != len(n.names) {
		return &evalError{"ValueError", fmt.Sprintf("cannot unpack %d values into %d names", len(parts), len(n.names))}
	}
	for i, name := range n.names {
		s.vars[name] = parts[i]
	}
	return nil
}

// macroFunc makes a callable of a macro defined in scope s.
func (r *renderer) macroFunc(m *macroDef, s *scope, _ any) *function {
	return &function{name: m.name, call: func(r *renderer, args []any, kw *dict) (any, error) {
		if len(args) > len(m.params) {
			return nil, typeErr("macro '%s' takes not more than %d argument(s)", m.name, len(m.params))
		}
		ms := &scope{vars: map[string]any{}, parent: s}
		for i, prm := range m.params {
			switch {
			case i < len(args):
				ms.vars[prm.name] = args[i]
			default:
				if v, ok := kw.get(prm.name); ok {
					ms.vars[prm.name] = v
					continue
				}
				if prm.def != nil {
					v, err := r.eval(prm.def, ms)
					if err != nil {
						return nil, err
					}
					ms.vars[prm.name] = v
					continue
				}
				ms.vars[prm.name] = undefined{fmt.Sprintf("parameter '%s' was not provided", prm.name)}
			}
		}
		extra := newDict()
		for _, k := range kw.keys {
			ks, _ := k.(string)
			known := ks == "caller"
			for i, prm := range m.params {
				if prm.name == ks {
					if i < len(args) {
						return nil, typeErr("macro '%s' got multiple values for argument '%s'", m.name, ks)
					}
					known = true
				}
			}
			if !known {
				extra.set(k, kw.m[k])
			}
		}
		if c, ok := kw.get("caller"); ok {
			ms.vars["caller"] = c
		}
		if extra.len() > 0 {
			return nil, typeErr("macro '%s' takes no keyword argument '%v'", m.name, extra.keys[0])
		}
		ms.vars["varargs"] = tuple{}
		ms.vars["kwargs"] = extra
		r.deep++
		defer func() { r.deep-- }()
		if r.deep > 200 {
			return nil, &evalError{"RecursionError", "maximum recursion depth exceeded"}
		}
		text, err := r.capture(m.body, ms)
		if err == errBreak || err == errContinue {
			err = nil
		}
		return text, err
	}}
}

func (r *renderer) evalArgs(args []expr, kwkeys []string, kwvals []expr, s *scope) ([]any, *dict, error) {
	av := make([]any, len(args))
	for i, a := range args {
		v, err := r.eval(a, s)
		if err != nil {
			return nil, nil, err
		}
		av[i] = v
	}
	kw := newDict()
	for i, k := range kwkeys {
		v, err := r.eval(kwvals[i], s)
		if err != nil {
			return nil, nil, err
		}
		kw.set(k, v)
	}
	return av, kw, nil
}

func (r *renderer) call(fn any, args []any, kw *dict) (any, error) {
	switch f := fn.(type) {
	case *function:
		return f.call(r, args, kw)
	case undefined:
		return nil, f.err()
	}
	return nil, typeErr("'%s' object is not callable", typeName(fn))
}

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
		out := make([]any, len(e.items))
		for i, it := range e.items {
			v, err := r.eval(it, s)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *tupleExpr:
		out := make(tuple, len(e.items))
		for i, it := range e.items {
			v, err := r.eval(it, s)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
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

func (l *loopCtx) attr(name string) any {
	n := len(l.items)
	i := l.index0
	switch name {
	case "index0":
		return int64(i)
	case "index":
		return int64(i + 1)
	case "revindex":
		return int64(n - i)
	case "revindex0":
		return int64(n - i - 1)
	case "first":
		return i == 0
	case "last":
		return i == n-1
	case "length":
		return int64(n)
	case "depth":
		return int64(1)
	case "depth0":
		return int64(0)
	case "previtem":
		if i > 0 {
			return l.items[i-1]
		}
		return undefined{"there is no previous item"}
	case "nextitem":
		if i < n-1 {
			return l.items[i+1]
		}
		return undefined{"there is no next item"}
	case "cycle":
		return &function{name: "cycle", call: func(_ *renderer, args []any, _ *dict) (any, error) {
			if len(args) == 0 {
				return nil, typeErr("no items for cycling given")
			}
			return args[i%len(args)], nil
		}}
	}
	return undefined{fmt.Sprintf("'LoopContext object' has no attribute '%s'", name)}
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

func binOp(op string, l, r any) (any, error) {
	if u, ok := l.(undefined); ok {
		return nil, u.err()
	}
	if u, ok := r.(undefined); ok {
		return nil, u.err()
	}
	unsupported := func() error {
		return typeErr("unsupported operand type(s) for %s: '%s' and '%s'", op, typeName(l), typeName(r))
	}
	li, lint := asInt(l)
	ri, rint := asInt(r)
	if isNumber(l) && isNumber(r) {
		lf, rf := toFloat(l), toFloat(r)
		both := lint && rint
		switch op {
		case "+":
			if both {
				return li + ri, nil
			}
			return lf + rf, nil
		case "-":
			if both {
				return li - ri, nil
			}
			return lf - rf, nil
		case "*":
			if both {
				return li * ri, nil
			}
			return lf * rf, nil
		case "/":
			if rf == 0 {
				return nil, &evalError{"ZeroDivisionError", "division by zero"}
			}
			return lf / rf, nil
		case "//":
			if rf == 0 {
				return nil, &evalError{"ZeroDivisionError", "integer division or modulo by zero"}
			}
			if both {
				q := li / ri
				if (li%ri != 0) && ((li < 0) != (ri < 0)) {
					q--
				}
				return q, nil
			}
			return math.Floor(lf / rf), nil
		case "%":
			if rf == 0 {
				return nil, &evalError{"ZeroDivisionError", "integer division or modulo by zero"}
			}
			if both {
				m := li % ri
				if m != 0 && (m < 0) != (ri < 0) {
					m += ri
				}
				return m, nil
			}
			m := math.Mod(lf, rf)
			if m != 0 && (m < 0) != (rf < 0) {
				m += rf
			}
			return m, nil
		case "**":
			if both && ri >= 0 {
				out := int64(1)
				for k := int64(0); k < ri; k++ {
					out *= li
				}
				return out, nil
			}
			return math.Pow(lf, rf), nil
		}
	}
	switch op {
	case "+":
		if ls, ok := l.(string); ok {
			if rs, ok := r.(string); ok {
				return ls + rs, nil
			}
			return nil, typeErr("can only concatenate str (not \"%s\") to str", typeName(r))
		}
		if ll, ok := l.([]any); ok {
			if rl, ok := r.([]any); ok {
				return append(append([]any{}, ll...), rl...), nil
			}
			return nil, typeErr("can only concatenate list (not \"%s\") to list", typeName(r))
		}
		if lt, ok := l.(tuple); ok {
			if rt, ok := r.(tuple); ok {
				return append(append(tuple{}, lt...), rt...), nil
			}
		}
	case "*":
		if s, ok := l.(string); ok && rint {
			return strings.Repeat(s, int(max(ri, 0))), nil
		}
		if s, ok := r.(string); ok && lint {
			return strings.Repeat(s, int(max(li, 0))), nil
		}
		if seq, ok := l.([]any); ok && rint {
			var out []any
			for k := int64(0); k < ri; k++ {
				out = append(out, seq...)
			}
			return out, nil
		}
	case "%":
		if s, ok := l.(string); ok {
			return percentFormat(s, r)
		}
	}
	return nil, unsupported()
}
