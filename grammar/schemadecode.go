package grammar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
)

// keyOrder records the order of each decoded JSON object's keys as written,
// by the identity of the map holding it: encoding/json's maps forget the
// order, and a schema's properties are generated in the order it gives them.
type keyOrder map[uintptr][]string

func (o keyOrder) of(m map[string]any) []string { return o[reflect.ValueOf(m).Pointer()] }

// decodeSchema decodes a JSON text as encoding/json does into an any
// (numbers as json.Number), recording the key order of every object.
func decodeSchema(text []byte) (any, keyOrder, error) {
	d := json.NewDecoder(bytes.NewReader(text))
	d.UseNumber()
	order := keyOrder{}
	v, err := decodeValue(d, order)
	if err != nil {
		return nil, nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("text after the JSON value")
	}
	return v, order, nil
}

func decodeValue(d *json.Decoder, order keyOrder) (any, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		m := map[string]any{}
		var keys []string
		for d.More() {
			kt, err := d.Token()
			if err != nil {
				return nil, err
			}
			k := kt.(string) // the decoder only yields strings as keys
			v, err := decodeValue(d, order)
			if err != nil {
				return nil, err
			}
			if _, dup := m[k]; !dup {
				keys = append(keys, k)
			}
			m[k] = v
		}
		if _, err := d.Token(); err != nil { // '}'
			return nil, err
		}
		order[reflect.ValueOf(m).Pointer()] = keys
		return m, nil
	case json.Delim('['):
		list := []any{}
		for d.More() {
			v, err := decodeValue(d, order)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		if _, err := d.Token(); err != nil { // ']'
			return nil, err
		}
		return list, nil
	}
	return tok, nil
}
