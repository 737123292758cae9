package chat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

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

// filterToJSON is transformers' tojson: json.dumps(x, ensure_ascii=False,
// indent=None, separators=None, sort_keys=False).
func filterToJSON(_ *renderer, x any, args []any, kw *dict) (any, error) {
	o := jsonOpts{itemSep: ", ", keySep: ": "}
	o.ensureASCII = truthy(argAt(args, kw, 0, "ensure_ascii", false))
	if ind := argAt(args, kw, 1, "indent", nil); ind != nil {
		var s string
		switch v := ind.(type) {
		case string:
			s = v
		default:
			n, ok := asInt(v)
			if !ok {
				return nil, typeErr("indent must be an int or a str")
			}
			var err error
			if s, err = repeatString(" ", n); err != nil {
				return nil, err
			}
		}
		o.indent = &s
		o.itemSep = ","
	}
	if sep := argAt(args, kw, 2, "separators", nil); sep != nil {
		parts, ok := asSeq(sep)
		if !ok || len(parts) != 2 {
			return nil, &evalError{"ValueError", "separators must be a pair of strings"}
		}
		o.itemSep, o.keySep = pyStr(parts[0]), pyStr(parts[1])
	}
	o.sortKeys = truthy(argAt(args, kw, 3, "sort_keys", false))
	return pyJSON(x, o)
}
