package chat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode"
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

// pyStr is Python's str(v) (an undefined value is "").
func pyStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case undefined:
		return ""
	}
	return pyRepr(v)
}

func pyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case undefined:
		return ""
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return pyFloat(x)
	case string:
		return reprString(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case tuple:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyRepr(e)
		}
		if len(x) == 1 {
			return "(" + parts[0] + ",)"
		}
		return "(" + strings.Join(parts, ", ") + ")"
	case *dict:
		parts := make([]string, len(x.keys))
		for i, k := range x.keys {
			parts[i] = pyRepr(k) + ": " + pyRepr(x.m[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case *namespace:
		return "<Namespace " + pyRepr(x.attrs) + ">"
	case *function:
		return "<function " + x.name + ">"
	case *loopCtx:
		return fmt.Sprintf("<LoopContext %d/%d>", x.index0+1, len(x.items))
	}
	return fmt.Sprint(v)
}

// pyFloat is Python's repr of a float.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

func reprString(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteByte(q)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x7f || unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(q)
	return b.String()
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

func pyEqual(a, b any) bool {
	if isNumber(a) && isNumber(b) {
		ai, aok := asInt(a)
		bi, bok := asInt(b)
		if aok && bok {
			return ai == bi
		}
		return toFloat(a) == toFloat(b)
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case undefined:
		_, ok := b.(undefined)
		return ok
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		return ok && seqEqual(x, y)
	case tuple:
		y, ok := b.(tuple)
		return ok && seqEqual(x, y)
	case *dict:
		y, ok := b.(*dict)
		if !ok || x.len() != y.len() {
			return false
		}
		for _, k := range x.keys {
			w, ok := y.get(k)
			if !ok || !pyEqual(x.m[k], w) {
				return false
			}
		}
		return true
	}
	return a == b
}

func seqEqual(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !pyEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

// pyLess is a < b, or a TypeError where Python has no ordering.
func pyLess(a, b any) (bool, error) {
	if _, ok := a.(undefined); ok {
		return false, a.(undefined).err()
	}
	if _, ok := b.(undefined); ok {
		return false, b.(undefined).err()
	}
	if isNumber(a) && isNumber(b) {
		ai, aok := asInt(a)
		bi, bok := asInt(b)
		if aok && bok {
			return ai < bi, nil
		}
		return toFloat(a) < toFloat(b), nil
	}
	if x, ok := a.(string); ok {
		if y, ok := b.(string); ok {
			return x < y, nil
		}
	}
	xs, xok := asSeq(a)
	ys, yok := asSeq(b)
	if xok && yok && reflect.TypeOf(a) == reflect.TypeOf(b) {
		for i := 0; i < len(xs) && i < len(ys); i++ {
			if !pyEqual(xs[i], ys[i]) {
				return pyLess(xs[i], ys[i])
			}
		}
		return len(xs) < len(ys), nil
	}
	return false, typeErr("'<' not supported between instances of '%s' and '%s'", typeName(a), typeName(b))
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

// fromGo turns a Go value into a template value: JSON-like Go values, and
// anything else through its JSON encoding (decoded with key order kept).
func fromGo(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case bool, int64, float64, string, undefined, *dict, tuple, *namespace, *function:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case float32:
		return float64(x), nil
	case json.Number:
		return numberValue(string(x))
	case json.RawMessage:
		return decodeJSON(x)
	case []byte:
		return decodeJSON(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = fromGo(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		// A Go map has no order: its keys come sorted, as encoding/json gives them.
		b, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		return decodeJSON(b)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return decodeJSON(b)
}

// decodeJSON decodes JSON as Python's json.loads does: objects keep their key
// order, integers stay integers.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("json: trailing data")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch x := t.(type) {
	case json.Delim:
		switch x {
		case '[':
			out := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			_, err := dec.Token()
			return out, err
		case '{':
			d := newDict()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				d.set(kt.(string), v)
			}
			_, err := dec.Token()
			return d, err
		}
		return nil, fmt.Errorf("json: unexpected %v", x)
	case json.Number:
		return numberValue(string(x))
	case string, bool, nil:
		return x, nil
	}
	return nil, fmt.Errorf("json: unexpected token %v", t)
}

func numberValue(s string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
	}
	return strconv.ParseFloat(s, 64)
}

// pyJSON is Python's json.dumps(v, ensure_ascii=ensureASCII, indent=indent,
// separators=(itemSep, keySep), sort_keys=sortKeys); indent nil means none.
type jsonOpts struct {
	ensureASCII bool
	indent      *string
	itemSep     string
	keySep      string
	sortKeys    bool
}

func pyJSON(v any, o jsonOpts) (string, error) {
	var b strings.Builder
	if err := writeJSON(&b, v, o, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeJSON(b *strings.Builder, v any, o jsonOpts, level int) error {
	newline := func(level int) {
		if o.indent != nil {
			b.WriteByte('\n')
			b.WriteString(strings.Repeat(*o.indent, level))
		}
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		switch {
		case math.IsNaN(x):
			b.WriteString("NaN")
		case math.IsInf(x, 1):
			b.WriteString("Infinity")
		case math.IsInf(x, -1):
			b.WriteString("-Infinity")
		default:
			b.WriteString(pyFloat(x))
		}
	case string:
		writeJSONString(b, x, o.ensureASCII)
	case []any, tuple:
		items, _ := asSeq(x)
		if len(items) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i, e := range items {
			if i > 0 {
				b.WriteString(o.itemSep)
			}
			newline(level + 1)
			if err := writeJSON(b, e, o, level+1); err != nil {
				return err
			}
		}
		newline(level)
		b.WriteByte(']')
	case *dict:
		if x.len() == 0 {
			b.WriteString("{}")
			return nil
		}
		keys := x.keys
		if o.sortKeys {
			keys = append([]any(nil), keys...)
			var sortErr error
			sortValues(keys, func(a, b any) bool {
				l, err := pyLess(a, b)
				if err != nil {
					sortErr = err
				}
				return l
			})
			if sortErr != nil {
				return sortErr
			}
		}
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(o.itemSep)
			}
			newline(level + 1)
			var ks string
			switch kk := k.(type) {
			case string:
				ks = kk
			case nil:
				ks = "null"
			case bool:
				ks = map[bool]string{true: "true", false: "false"}[kk]
			case int64, float64:
				ks = pyRepr(kk)
			default:
				return typeErr("keys must be str, int, float, bool or None, not %s", typeName(k))
			}
			writeJSONString(b, ks, o.ensureASCII)
			b.WriteString(o.keySep)
			if err := writeJSON(b, x.m[k], o, level+1); err != nil {
				return err
			}
		}
		newline(level)
		b.WriteByte('}')
	default:
		return typeErr("Object of type %s is not JSON serializable", typeName(v))
	}
	return nil
}

func writeJSONString(b *strings.Builder, s string, ascii bool) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20:
				fmt.Fprintf(b, `\u%04x`, r)
			case ascii && r > 0x7e:
				if r > 0xffff {
					r -= 0x10000
					fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
				} else {
					fmt.Fprintf(b, `\u%04x`, r)
				}
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// sortValues is a stable insertion-free sort by less (a merge sort, stable as Python's).
func sortValues(xs []any, less func(a, b any) bool) {
	if len(xs) < 2 {
		return
	}
	mid := len(xs) / 2
	l := append([]any(nil), xs[:mid]...)
	r := append([]any(nil), xs[mid:]...)
	sortValues(l, less)
	sortValues(r, less)
	i, j, k := 0, 0, 0
	for i < len(l) && j < len(r) {
		if less(r[j], l[i]) {
			xs[k] = r[j]
			j++
		} else {
			xs[k] = l[i]
			i++
		}
		k++
	}
	for ; i < len(l); i++ {
		xs[k] = l[i]
		k++
	}
	for ; j < len(r); j++ {
		xs[k] = r[j]
		k++
	}
}
