package chat

import (
	"math"
	"strconv"
	"strings"
)

// numberFilters are the filters of numbers.
func numberFilters() map[string]filterFunc {
	return map[string]filterFunc{
		"abs": func(_ *renderer, x any, _ []any, _ *dict) (any, error) {
			switch v := x.(type) {
			case int64:
				if v < 0 {
					return -v, nil
				}
				return v, nil
			case bool:
				i, _ := asInt(v)
				return i, nil
			case float64:
				return math.Abs(v), nil
			}
			return nil, typeErr("bad operand type for abs(): '%s'", typeName(x))
		},
		"float": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			def := argAt(args, kw, 0, "default", 0.0)
			switch v := x.(type) {
			case bool, int64, float64:
				return toFloat(v), nil
			case string:
				f, err := strconv.ParseFloat(strings.TrimFunc(v, isPySpace), 64)
				if err != nil {
					return def, nil
				}
				return f, nil
			}
			return def, nil
		},
		"int": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			def := argAt(args, kw, 0, "default", int64(0))
			base := argAt(args, kw, 1, "base", int64(10))
			switch v := x.(type) {
			case bool, int64:
				i, _ := asInt(v)
				return i, nil
			case float64:
				return int64(v), nil
			case string:
				b, _ := asInt(base)
				s := strings.ReplaceAll(strings.TrimFunc(v, isPySpace), "_", "")
				if i, err := strconv.ParseInt(s, int(b), 64); err == nil {
					return i, nil
				}
				if f, err := strconv.ParseFloat(s, 64); err == nil {
					return int64(f), nil
				}
			}
			return def, nil
		},
		"round": func(_ *renderer, x any, args []any, kw *dict) (any, error) {
			prec, _ := asInt(argAt(args, kw, 0, "precision", int64(0)))
			method := pyStr(argAt(args, kw, 1, "method", "common"))
			f := toFloat(x)
			p := math.Pow(10, float64(prec))
			switch method {
			case "ceil":
				return math.Ceil(f*p) / p, nil
			case "floor":
				return math.Floor(f*p) / p, nil
			}
			return math.RoundToEven(f*p) / p, nil
		},
	}
}
