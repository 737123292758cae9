package chat

import "fmt"

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
		if r.deep > maxCallDepth {
			return nil, &evalError{"RecursionError", fmt.Sprintf("maximum recursion depth exceeded (%d macro calls)", maxCallDepth)}
		}
		if err := r.tick(); err != nil {
			return nil, err
		}
		text, err := r.capture(m.body, ms)
		if err == errBreak || err == errContinue {
			err = nil
		}
		return text, err
	}}
}

// evalAll evaluates es in order, up to the first error.
func (r *renderer) evalAll(es []expr, s *scope) ([]any, error) {
	out := make([]any, len(es))
	for i, e := range es {
		v, err := r.eval(e, s)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (r *renderer) evalArgs(args []expr, kwkeys []string, kwvals []expr, s *scope) ([]any, *dict, error) {
	av, err := r.evalAll(args, s)
	if err != nil {
		return nil, nil, err
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
