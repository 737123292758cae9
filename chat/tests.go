package chat

import (
	"fmt"
	"strings"
)

func (r *renderer) applyTest(name string, x any, args []any, kw *dict) (any, error) {
	arg := func() (any, error) {
		v := argAt(args, kw, 0, "other", nil)
		if len(args) == 0 && (kw == nil || kw.len() == 0) {
			return nil, typeErr("test '%s' needs an argument", name)
		}
		return v, nil
	}
	cmp := func(op string) (any, error) {
		o, err := arg()
		if err != nil {
			return nil, err
		}
		return compare(op, x, o)
	}
	switch name {
	case "defined":
		_, u := x.(undefined)
		return !u, nil
	case "undefined":
		_, u := x.(undefined)
		return u, nil
	case "none":
		return x == nil, nil
	case "string":
		_, ok := x.(string)
		return ok, nil
	case "mapping":
		_, ok := x.(*dict)
		return ok, nil
	case "iterable":
		switch x.(type) {
		case undefined, string, []any, tuple, *dict, *loopCtx:
			return true, nil
		}
		return false, nil
	case "sequence":
		switch x.(type) {
		case undefined, string, []any, tuple, *dict:
			return true, nil
		}
		return false, nil
	case "number":
		return isNumber(x), nil
	case "integer":
		_, ok := x.(int64)
		return ok, nil
	case "float":
		_, ok := x.(float64)
		return ok, nil
	case "boolean":
		_, ok := x.(bool)
		return ok, nil
	case "true":
		return x == true, nil
	case "false":
		return x == false, nil
	case "callable":
		_, ok := x.(*function)
		return ok, nil
	case "odd", "even":
		i, ok := asInt(x)
		if !ok {
			return nil, typeErr("not all arguments converted during string formatting")
		}
		return (i%2 != 0) == (name == "odd"), nil
	case "divisibleby":
		o, err := arg()
		if err != nil {
			return nil, err
		}
		m, err := binOp("%", x, o)
		if err != nil {
			return nil, err
		}
		return pyEqual(m, int64(0)), nil
	case "eq", "equalto", "==":
		return cmp("==")
	case "ne", "!=":
		return cmp("!=")
	case "lt", "lessthan", "<":
		return cmp("<")
	case "le", "<=":
		return cmp("<=")
	case "gt", "greaterthan", ">":
		return cmp(">")
	case "ge", ">=":
		return cmp(">=")
	case "in":
		o, err := arg()
		if err != nil {
			return nil, err
		}
		return contains(o, x)
	case "sameas":
		o, err := arg()
		if err != nil {
			return nil, err
		}
		switch x.(type) {
		case nil, bool, undefined:
			return x == o, nil
		}
		return pyEqual(x, o) && typeName(x) == typeName(o), nil
	case "lower":
		s := pyStr(x)
		return s == strings.ToLower(s), nil
	case "upper":
		s := pyStr(x)
		return s == strings.ToUpper(s), nil
	case "escaped":
		return false, nil
	case "filter":
		_, ok := filters[pyStr(x)]
		return ok, nil
	case "test":
		_, err := r.applyTest(pyStr(x), nil, []any{nil}, nil)
		return err == nil || !strings.Contains(err.Error(), "No test named"), nil
	}
	return nil, &evalError{"TemplateAssertionError", fmt.Sprintf("No test named '%s'.", name)}
}
