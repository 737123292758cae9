package gguf

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func val(x any) Value {
	v, err := valueOf(x, 0)
	if err != nil {
		panic(err)
	}
	v.Key = "k"
	return v
}

func TestValueNumbers(t *testing.T) {
	tests := []struct {
		name      string
		v         Value
		uint      uint64
		uintErr   string
		int       int64
		intErr    string
		float     float64
		floatErr  string
		typeNamed string
	}{
		{name: "uint8", v: val(uint8(7)), uint: 7, int: 7, float: 7},
		{name: "negative int8", v: val(int8(-3)), uintErr: `key "k": -3 is negative`, int: -3, float: -3},
		{name: "min int64", v: val(int64(math.MinInt64)), uintErr: "is negative", int: math.MinInt64, float: math.MinInt64},
		{name: "max uint64", v: val(uint64(math.MaxUint64)), uint: math.MaxUint64, intErr: "does not fit int64", float: math.MaxUint64},
		{name: "float32", v: val(float32(0.25)), uintErr: `key "k": is float32, not an unsigned integer`, intErr: "is float32, not an integer", float: 0.25},
		{name: "string", v: val("x"), uintErr: "is string", intErr: "is string", floatErr: `key "k": is string, not a number`},
		{name: "array", v: val([]uint32{1}), uintErr: "is array of uint32", intErr: "is array of uint32", floatErr: "is array of uint32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := tt.v.Uint()
			if tt.uintErr != "" {
				assert.ErrorContains(t, err, tt.uintErr)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tt.uint, u)
			}
			i, err := tt.v.Int()
			if tt.intErr != "" {
				assert.ErrorContains(t, err, tt.intErr)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tt.int, i)
			}
			f, err := tt.v.Float()
			if tt.floatErr != "" {
				assert.ErrorContains(t, err, tt.floatErr)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tt.float, f)
			}
		})
	}
}

func TestValueBoolAndStr(t *testing.T) {
	b, err := val(true).Bool()
	require.NoError(t, err)
	assert.True(t, b)
	_, err = val(uint8(1)).Bool()
	assert.ErrorContains(t, err, `key "k": is uint8, not bool`)
	s, err := val("hi").Str()
	require.NoError(t, err)
	assert.Equal(t, "hi", s)
	_, err = val([]string{"a"}).Str()
	assert.ErrorContains(t, err, "is array of string, not string")
}

func TestValueArrays(t *testing.T) {
	ss, err := val([]string{"a", "b"}).Strings()
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, ss)
	_, err = val([]int32{1}).Strings()
	assert.ErrorContains(t, err, "is array of int32, not array of string")

	fs, err := val([]float64{0.5, 2}).Float32s()
	require.NoError(t, err)
	assert.Equal(t, []float32{0.5, 2}, fs)
	_, err = val([]int32{1}).Float32s()
	assert.ErrorContains(t, err, "not array of float32")

	tests := []struct {
		name string
		v    Value
		want []int32
		err  string
	}{
		{"int32", val([]int32{-1, 2}), []int32{-1, 2}, ""},
		{"uint8", val([]uint8{1, 255}), []int32{1, 255}, ""},
		{"int64 in range", val([]int64{math.MinInt32, math.MaxInt32}), []int32{math.MinInt32, math.MaxInt32}, ""},
		{"int64 too small", val([]int64{0, math.MinInt32 - 1}), nil, "element 1 (-2147483649) does not fit int32"},
		{"uint32 too large", val([]uint32{math.MaxInt32 + 1}), nil, "does not fit int32"},
		{"uint64 huge", val([]uint64{math.MaxUint64}), nil, "does not fit int32"},
		{"float32", val([]float32{1}), nil, "not array of int32"},
		{"scalar", val(int32(1)), nil, "is int32, not array of int32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.v.Int32s()
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}

	assert.Equal(t, 3, val([][]uint8{{1}, {2}, {}}).ArrayLen())
	assert.Equal(t, 0, val(uint32(5)).ArrayLen())
	assert.Equal(t, ValueUint16, val([]uint16{1}).ElemType())
}
