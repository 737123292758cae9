package chat

import (
	"context"
	"errors"
	"fmt"
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
	// iterations counts loop iterations against maxIterations.
	iterations int
	// ctx cancels the rendering; deadline ends it (MaxRenderTime).
	ctx      context.Context
	deadline time.Time
	ticks    int
}

// iterate counts one loop iteration against the budget.
func (r *renderer) iterate() error {
	if r.iterations++; r.iterations > maxIterations {
		return limitError("more than %d loop iterations", maxIterations)
	}
	return r.tick()
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
		if r.out.Len() > maxOutputBytes {
			return limitError("the output is over the limit of %d bytes", maxOutputBytes)
		}
	}
	return nil
}

func (r *renderer) renderNode(n node, s *scope) error {
	if err := r.tick(); err != nil {
		return err
	}
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
		v, err := r.captureFiltered(n.body, n.filts, s)
		if err != nil {
			return err
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

// captureFiltered renders body to a string and passes that through filts, as a
// {% filter %} block and a block {% set %} do.
func (r *renderer) captureFiltered(body []node, filts []*filterExpr, s *scope) (any, error) {
	text, err := r.capture(body, s)
	if err != nil {
		return nil, err
	}
	var v any = text
	for _, f := range filts {
		if v, err = r.applyFilter(f, v, s); err != nil {
			return nil, err
		}
	}
	return v, nil
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
			if err := r.iterate(); err != nil {
				return err
			}
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
		if err := r.iterate(); err != nil {
			return err
		}
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
		if v, err = r.captureFiltered(n.body, n.filts, s); err != nil {
			return err
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
