package chat

import (
	"math"
	"strings"
)

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
