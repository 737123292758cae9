package chat

import "fmt"

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

// filters are Jinja's filters by name: the general ones below, and those of
// strings, sequences and numbers (filters_*.go).
var filters map[string]filterFunc

func init() {
	filters = map[string]filterFunc{
		"attr": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			return getAttr(x, pyStr(argAt(args, kw, 0, "name", "")))
		},
		"default": filterDefault,
		"d":       filterDefault,
		"safe":    func(_ *renderer, x any, _ []any, _ *dict) (any, error) { return x, nil },
		"tojson":  filterToJSON,
	}
	for _, group := range []map[string]filterFunc{stringFilters(), sequenceFilters(), numberFilters()} {
		for name, f := range group {
			if _, dup := filters[name]; dup {
				panic("chat: filter " + name + " defined twice")
			}
			filters[name] = f
		}
	}
}

func filterDefault(_ *renderer, x any, args []any, kw *dict) (any, error) {
	def := argAt(args, kw, 0, "default_value", "")
	boolean := truthy(argAt(args, kw, 1, "boolean", false))
	if _, ok := x.(undefined); ok || boolean && !truthy(x) {
		return def, nil
	}
	return x, nil
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
