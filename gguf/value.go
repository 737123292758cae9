package gguf

import (
	"fmt"
	"math"
)

// ValueType is the type of a metadata value, numbered as in the GGUF spec.
type ValueType uint32

const (
	ValueUint8   ValueType = 0
	ValueInt8    ValueType = 1
	ValueUint16  ValueType = 2
	ValueInt16   ValueType = 3
	ValueUint32  ValueType = 4
	ValueInt32   ValueType = 5
	ValueFloat32 ValueType = 6
	ValueBool    ValueType = 7
	ValueString  ValueType = 8
	ValueArray   ValueType = 9
	ValueUint64  ValueType = 10
	ValueInt64   ValueType = 11
	ValueFloat64 ValueType = 12
)

var valueTypeNames = [...]string{
	ValueUint8: "uint8", ValueInt8: "int8", ValueUint16: "uint16", ValueInt16: "int16",
	ValueUint32: "uint32", ValueInt32: "int32", ValueFloat32: "float32", ValueBool: "bool",
	ValueString: "string", ValueArray: "array", ValueUint64: "uint64", ValueInt64: "int64",
	ValueFloat64: "float64",
}

// Known reports whether t is one of the value types of the spec.
func (t ValueType) Known() bool { return t <= ValueFloat64 }

func (t ValueType) String() string {
	if t.Known() {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("valuetype(%d)", uint32(t))
}

// fixedSize is the encoded size of a scalar of type t; 0 for strings and arrays.
func (t ValueType) fixedSize() int {
	switch t {
	case ValueUint8, ValueInt8, ValueBool:
		return 1
	case ValueUint16, ValueInt16:
		return 2
	case ValueUint32, ValueInt32, ValueFloat32:
		return 4
	case ValueUint64, ValueInt64, ValueFloat64:
		return 8
	}
	return 0
}

// Value is one metadata value, with its key when it is a top-level key-value pair.
//
// Scalars hold the Go type of the same name (uint8 ... float64, bool, string). Arrays of
// scalars hold a typed slice ([]uint8, []float32, []string, ...); arrays of arrays hold
// one Value per element. Slices returned by the accessors share the Value's storage and
// must not be modified.
type Value struct {
	Key  string
	Type ValueType

	elem ValueType // element type, for arrays
	v    any
}

// ElemType is the type of an array's elements (meaningless for non-arrays).
func (v Value) ElemType() ValueType { return v.elem }

// Any is the Go value: a scalar, a typed slice, or for arrays of arrays an []any of
// the elements' Any.
func (v Value) Any() any {
	if nested, ok := v.v.([]Value); ok {
		out := make([]any, len(nested))
		for i, e := range nested {
			out[i] = e.Any()
		}
		return out
	}
	return v.v
}

// ArrayLen is the number of elements of an array, 0 for other values.
func (v Value) ArrayLen() int {
	if v.Type != ValueArray {
		return 0
	}
	switch a := v.v.(type) {
	case []uint8:
		return len(a)
	case []int8:
		return len(a)
	case []uint16:
		return len(a)
	case []int16:
		return len(a)
	case []uint32:
		return len(a)
	case []int32:
		return len(a)
	case []float32:
		return len(a)
	case []bool:
		return len(a)
	case []string:
		return len(a)
	case []uint64:
		return len(a)
	case []int64:
		return len(a)
	case []float64:
		return len(a)
	case []Value:
		return len(a)
	}
	return 0
}

// typeName describes v's type for error messages, e.g. "array of string".
func (v Value) typeName() string {
	if v.Type == ValueArray {
		return "array of " + v.elem.String()
	}
	return v.Type.String()
}

func (v Value) wrongType(want string) error {
	return fmt.Errorf("gguf: key %q: is %s, not %s", v.Key, v.typeName(), want)
}

// integer splits an integer value into sign and magnitude; ok is false for non-integers.
func integer(x any) (neg bool, mag uint64, ok bool) {
	signed := func(i int64) (bool, uint64, bool) {
		if i < 0 {
			return true, uint64(-(i + 1)) + 1, true
		}
		return false, uint64(i), true
	}
	switch x := x.(type) {
	case uint8:
		return false, uint64(x), true
	case uint16:
		return false, uint64(x), true
	case uint32:
		return false, uint64(x), true
	case uint64:
		return false, x, true
	case int8:
		return signed(int64(x))
	case int16:
		return signed(int64(x))
	case int32:
		return signed(int64(x))
	case int64:
		return signed(x)
	}
	return false, 0, false
}

// Uint is an integer value of any type that is not negative.
func (v Value) Uint() (uint64, error) {
	neg, mag, ok := integer(v.v)
	if !ok {
		return 0, v.wrongType("an unsigned integer")
	}
	if neg {
		return 0, fmt.Errorf("gguf: key %q: %v is negative", v.Key, v.v)
	}
	return mag, nil
}

// Int is an integer value of any type that fits an int64.
func (v Value) Int() (int64, error) {
	neg, mag, ok := integer(v.v)
	if !ok {
		return 0, v.wrongType("an integer")
	}
	if neg {
		return -int64(mag-1) - 1, nil
	}
	if mag > math.MaxInt64 {
		return 0, fmt.Errorf("gguf: key %q: %d does not fit int64", v.Key, mag)
	}
	return int64(mag), nil
}

// Float is a float32 or float64 value, or an integer value converted.
func (v Value) Float() (float64, error) {
	switch x := v.v.(type) {
	case float32:
		return float64(x), nil
	case float64:
		return x, nil
	}
	if i, err := v.Int(); err == nil {
		return float64(i), nil
	}
	if u, err := v.Uint(); err == nil {
		return float64(u), nil
	}
	return 0, v.wrongType("a number")
}

// Bool is a bool value.
func (v Value) Bool() (bool, error) {
	if b, ok := v.v.(bool); ok {
		return b, nil
	}
	return false, v.wrongType("bool")
}

// Str is a string value.
func (v Value) Str() (string, error) {
	if s, ok := v.v.(string); ok && v.Type == ValueString {
		return s, nil
	}
	return "", v.wrongType("string")
}

// Strings is an array of strings.
func (v Value) Strings() ([]string, error) {
	if s, ok := v.v.([]string); ok {
		return s, nil
	}
	return nil, v.wrongType("array of string")
}

// Float32s is an array of float32, or of float64 converted.
func (v Value) Float32s() ([]float32, error) {
	switch a := v.v.(type) {
	case []float32:
		return a, nil
	case []float64:
		out := make([]float32, len(a))
		for i, x := range a {
			out[i] = float32(x)
		}
		return out, nil
	}
	return nil, v.wrongType("array of float32")
}

// Int32s is an array of any integer type whose elements all fit an int32.
func (v Value) Int32s() ([]int32, error) {
	if a, ok := v.v.([]int32); ok {
		return a, nil
	}
	var out []int32
	var err error
	switch a := v.v.(type) {
	case []uint8:
		out, err = toInt32s(v.Key, a)
	case []int8:
		out, err = toInt32s(v.Key, a)
	case []uint16:
		out, err = toInt32s(v.Key, a)
	case []int16:
		out, err = toInt32s(v.Key, a)
	case []uint32:
		out, err = toInt32s(v.Key, a)
	case []uint64:
		out, err = toInt32s(v.Key, a)
	case []int64:
		out, err = toInt32s(v.Key, a)
	default:
		return nil, v.wrongType("array of int32")
	}
	return out, err
}

func toInt32s[T uint8 | int8 | uint16 | int16 | uint32 | uint64 | int64](key string, a []T) ([]int32, error) {
	out := make([]int32, len(a))
	for i, x := range a {
		if int64(x) < math.MinInt32 || int64(x) > math.MaxInt32 || (x > 0 && uint64(x) > math.MaxInt32) {
			return nil, fmt.Errorf("gguf: key %q: element %d (%v) does not fit int32", key, i, x)
		}
		out[i] = int32(x)
	}
	return out, nil
}
