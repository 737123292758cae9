package chat

import (
	"math"
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
				return addInt(li, ri)
			}
			return lf + rf, nil
		case "-":
			if both {
				return subInt(li, ri)
			}
			return lf - rf, nil
		case "*":
			if both {
				return mulInt(li, ri)
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
				if li == math.MinInt64 && ri == -1 {
					return nil, overflowError("//")
				}
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
				if ri == -1 {
					return int64(0), nil
				}
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
				return powInt(li, ri)
			}
			return math.Pow(lf, rf), nil
		}
	}
	switch op {
	case "+":
		if ls, ok := l.(string); ok {
			if rs, ok := r.(string); ok {
				if err := checkString(len(ls) + len(rs)); err != nil {
					return nil, err
				}
				return ls + rs, nil
			}
			return nil, typeErr("can only concatenate str (not \"%s\") to str", typeName(r))
		}
		if ll, ok := l.([]any); ok {
			if rl, ok := r.([]any); ok {
				if err := checkList(int64(len(ll)) + int64(len(rl))); err != nil {
					return nil, err
				}
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
			return repeatString(s, ri)
		}
		if s, ok := r.(string); ok && lint {
			return repeatString(s, li)
		}
		if seq, ok := l.([]any); ok && rint {
			if len(seq) > 0 && ri > 0 && (ri > maxListItems || int64(len(seq))*ri > maxListItems) {
				return nil, checkList(maxListItems + 1)
			}
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
