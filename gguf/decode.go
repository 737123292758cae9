package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"
)

// MaxArrayDepth is how deeply arrays may nest: an array of arrays of arrays of arrays.
const MaxArrayDepth = 4

// decoder reads little-endian GGUF values from data, checking every length against
// the bytes that remain before allocating anything.
type decoder struct {
	data []byte
	off  int
	ctx  string // what is being read, for error messages: `key "x"`, `tensor 3`
}

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", d.ctx, fmt.Sprintf(format, args...))
}

func (d *decoder) remaining() int { return len(d.data) - d.off }

// take returns the next n bytes, or an error naming what was being read.
func (d *decoder) take(n int, what string) ([]byte, error) {
	if n < 0 || n > d.remaining() {
		return nil, d.errorf("truncated %s at offset %d (need %d bytes, %d left)", what, d.off, n, d.remaining())
	}
	b := d.data[d.off : d.off+n]
	d.off += n
	return b, nil
}

func (d *decoder) u32(what string) (uint32, error) {
	b, err := d.take(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64(what string) (uint64, error) {
	b, err := d.take(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// str reads a length-prefixed string, which must be valid UTF-8.
func (d *decoder) str(what string) (string, error) {
	start := d.off
	n, err := d.u64(what + " length")
	if err != nil {
		return "", err
	}
	if n > uint64(d.remaining()) {
		return "", d.errorf("%s length %d at offset %d exceeds the %d bytes left", what, n, start, d.remaining())
	}
	b, _ := d.take(int(n), what)
	if !utf8.Valid(b) {
		return "", d.errorf("%s at offset %d is not valid UTF-8: %q", what, start+8, truncateForError(b))
	}
	return string(b), nil
}

func truncateForError(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// value reads one value of type t; depth is the number of arrays it sits in.
func (d *decoder) value(t ValueType, depth int) (Value, error) {
	switch t {
	case ValueString:
		s, err := d.str("string")
		return Value{Type: t, v: s}, err
	case ValueArray:
		return d.array(depth + 1)
	}
	if !t.Known() {
		return Value{}, d.errorf("unknown value type %d at offset %d", uint32(t), d.off-4)
	}
	b, err := d.take(t.fixedSize(), t.String())
	if err != nil {
		return Value{}, err
	}
	v, err := d.scalar(t, b)
	return Value{Type: t, v: v}, err
}

// scalar decodes a fixed-size value from b, which holds exactly its bytes.
func (d *decoder) scalar(t ValueType, b []byte) (any, error) {
	le := binary.LittleEndian
	switch t {
	case ValueUint8:
		return b[0], nil
	case ValueInt8:
		return int8(b[0]), nil
	case ValueUint16:
		return le.Uint16(b), nil
	case ValueInt16:
		return int16(le.Uint16(b)), nil
	case ValueUint32:
		return le.Uint32(b), nil
	case ValueInt32:
		return int32(le.Uint32(b)), nil
	case ValueFloat32:
		return math.Float32frombits(le.Uint32(b)), nil
	case ValueUint64:
		return le.Uint64(b), nil
	case ValueInt64:
		return int64(le.Uint64(b)), nil
	case ValueFloat64:
		return math.Float64frombits(le.Uint64(b)), nil
	case ValueBool:
		if b[0] > 1 {
			return nil, d.errorf("bool byte %d at offset %d is neither 0 nor 1", b[0], d.off-1)
		}
		return b[0] == 1, nil
	}
	return nil, d.errorf("unknown value type %d", uint32(t))
}

// array reads an array's element type, count and elements; depth counts this array.
func (d *decoder) array(depth int) (Value, error) {
	if depth > MaxArrayDepth {
		return Value{}, d.errorf("arrays nested more than %d deep at offset %d", MaxArrayDepth, d.off)
	}
	et32, err := d.u32("array element type")
	if err != nil {
		return Value{}, err
	}
	et := ValueType(et32)
	if !et.Known() {
		return Value{}, d.errorf("unknown array element type %d at offset %d", et32, d.off-4)
	}
	countAt := d.off
	count, err := d.u64("array length")
	if err != nil {
		return Value{}, err
	}
	// The smallest encoding of one element bounds the count before anything is allocated.
	minSize := et.fixedSize()
	switch et {
	case ValueString:
		minSize = 8
	case ValueArray:
		minSize = 4 + 8
	}
	if count > uint64(d.remaining()/minSize) {
		return Value{}, d.errorf("array of %s length %d at offset %d needs at least %d bytes per element, only %d bytes left",
			et, count, countAt, minSize, d.remaining())
	}
	n := int(count)
	arr := Value{Type: ValueArray, elem: et}
	switch et {
	case ValueString:
		a := make([]string, n)
		for i := range a {
			if a[i], err = d.str("string"); err != nil {
				return Value{}, err
			}
		}
		arr.v = a
	case ValueArray:
		a := make([]Value, n)
		for i := range a {
			if a[i], err = d.array(depth + 1); err != nil {
				return Value{}, err
			}
		}
		arr.v = a
	default:
		b, _ := d.take(n*minSize, "array")
		arr.v, err = d.scalars(et, b, n)
	}
	return arr, err
}

// scalars decodes n fixed-size elements of type t from b.
func (d *decoder) scalars(t ValueType, b []byte, n int) (any, error) {
	le := binary.LittleEndian
	switch t {
	case ValueUint8:
		return append([]uint8(nil), b...), nil
	case ValueInt8:
		return decodeAll(b, n, 1, func(p []byte) int8 { return int8(p[0]) }), nil
	case ValueUint16:
		return decodeAll(b, n, 2, le.Uint16), nil
	case ValueInt16:
		return decodeAll(b, n, 2, func(p []byte) int16 { return int16(le.Uint16(p)) }), nil
	case ValueUint32:
		return decodeAll(b, n, 4, le.Uint32), nil
	case ValueInt32:
		return decodeAll(b, n, 4, func(p []byte) int32 { return int32(le.Uint32(p)) }), nil
	case ValueFloat32:
		return decodeAll(b, n, 4, func(p []byte) float32 { return math.Float32frombits(le.Uint32(p)) }), nil
	case ValueUint64:
		return decodeAll(b, n, 8, le.Uint64), nil
	case ValueInt64:
		return decodeAll(b, n, 8, func(p []byte) int64 { return int64(le.Uint64(p)) }), nil
	case ValueFloat64:
		return decodeAll(b, n, 8, func(p []byte) float64 { return math.Float64frombits(le.Uint64(p)) }), nil
	case ValueBool:
		out := make([]bool, n)
		for i, c := range b {
			if c > 1 {
				return nil, d.errorf("bool byte %d at offset %d is neither 0 nor 1", c, d.off-len(b)+i)
			}
			out[i] = c == 1
		}
		return out, nil
	}
	return nil, d.errorf("unknown value type %d", uint32(t))
}

func decodeAll[T any](b []byte, n, size int, get func([]byte) T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = get(b[i*size:])
	}
	return out
}
