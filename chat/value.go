package chat

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// Template values are Go values of these types, standing for Python's:
//
//	nil        None
//	undefined  jinja2.Undefined
//	bool, int64, float64, string
//	[]any      list
//	tuple      tuple
//	*dict      dict (insertion-ordered)
//	*namespace jinja2 namespace()
//	*function  callables (globals, methods, macros)
//	*loopCtx   the loop variable

type undefined struct {
	msg string // the UndefinedError message, e.g. "'x' is undefined"
}

func (u undefined) err() error { return &evalError{kind: "UndefinedError", msg: u.msg} }

type tuple []any

type dict struct {
	keys []any
	m    map[any]any
}

func newDict() *dict { return &dict{m: map[any]any{}} }

func (d *dict) set(k, v any) {
	k = hashKey(k)
	if _, ok := d.m[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.m[k] = v
}

func (d *dict) get(k any) (any, bool) {
	if !hashable(k) {
		return nil, false
	}
	v, ok := d.m[hashKey(k)]
	return v, ok
}

func (d *dict) len() int { return len(d.keys) }

// hashKey makes equal Python numbers the same key (1 == 1.0).
func hashKey(k any) any {
	if f, ok := k.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<62 {
		return int64(f)
	}
	return k
}

func hashable(k any) bool {
	switch k.(type) {
	case nil, bool, int64, float64, string:
		return true
	}
	return false
}

type namespace struct{ attrs *dict }

type function struct {
	name string
	call func(r *renderer, args []any, kw *dict) (any, error)
}

type loopCtx struct {
	items  []any
	index0 int
}

// evalError is an error raised while rendering; kind names the Python exception.
type evalError struct {
	kind string
	msg  string
}

func (e *evalError) Error() string { return e.kind + ": " + e.msg }

func typeErr(format string, args ...any) error {
	return &evalError{kind: "TypeError", msg: fmt.Sprintf(format, args...)}
}

// RaiseError is the error of a template that called raise_exception(message).
// Its Error() is the message exactly.
type RaiseError struct{ Message string }

func (e *RaiseError) Error() string { return e.Message }

// typeName is Python's type name of v.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case undefined:
		return "Undefined"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case tuple:
		return "tuple"
	case *dict:
		return "dict"
	case *namespace:
		return "Namespace"
	case *function:
		return "function"
	case *loopCtx:
		return "LoopContext"
	}
	return fmt.Sprintf("%T", v)
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil, undefined:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case tuple:
		return len(x) > 0
	case *dict:
		return x.len() > 0
	}
	return true
}

func isNumber(v any) bool {
	switch v.(type) {
	case bool, int64, float64:
		return true
	}
	return false
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case bool:
		if x {
			return 1
		}
		return 0
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

// asInt returns v as an integer when it is a bool or int.
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case int64:
		return x, true
	}
	return 0, false
}

func asSeq(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case tuple:
		return x, true
	}
	return nil, false
}

// iterate is Python's iter(v) as a list.
func iterate(v any) ([]any, error) {
	switch x := v.(type) {
	case undefined:
		return nil, nil
	case []any:
		return x, nil
	case tuple:
		return x, nil
	case *dict:
		return append([]any(nil), x.keys...), nil
	case string:
		out := make([]any, 0, len(x))
		for _, r := range x {
			out = append(out, string(r))
		}
		return out, nil
	case *loopCtx:
		return x.items, nil
	}
	return nil, typeErr("'%s' object is not iterable", typeName(v))
}

// pyLen is Python's len(v).
func pyLen(v any) (int, error) {
	switch x := v.(type) {
	case undefined:
		return 0, nil
	case string:
		return utf8.RuneCountInString(x), nil
	case []any:
		return len(x), nil
	case tuple:
		return len(x), nil
	case *dict:
		return x.len(), nil
	}
	return 0, typeErr("object of type '%s' has no len()", typeName(v))
}
