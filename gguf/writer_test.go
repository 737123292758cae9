package gguf

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// everyValue has one metadata value of each kind the Writer takes, in order.
var everyValue = []struct {
	key   string
	value any
	typ   ValueType
}{
	{"u8", uint8(200), ValueUint8},
	{"i8", int8(-100), ValueInt8},
	{"u16", uint16(60000), ValueUint16},
	{"i16", int16(-30000), ValueInt16},
	{"u32", uint32(4000000000), ValueUint32},
	{"i32", int32(-2000000000), ValueInt32},
	{"f32", float32(1.5), ValueFloat32},
	{"bool", true, ValueBool},
	{"str", "héllo ▁world", ValueString},
	{"u64", uint64(math.MaxUint64), ValueUint64},
	{"i64", int64(math.MinInt64), ValueInt64},
	{"f64", math.Pi, ValueFloat64},
	{"empty.str", "", ValueString},
	{"arr.u8", []uint8{1, 2, 255}, ValueArray},
	{"arr.i8", []int8{-1, 0, 1}, ValueArray},
	{"arr.u16", []uint16{1, 65535}, ValueArray},
	{"arr.i16", []int16{-32768, 32767}, ValueArray},
	{"arr.u32", []uint32{7}, ValueArray},
	{"arr.i32", []int32{-7, 8}, ValueArray},
	{"arr.f32", []float32{0.5, -2, float32(math.Inf(1))}, ValueArray},
	{"arr.bool", []bool{true, false, true}, ValueArray},
	{"arr.str", []string{"<s>", "</s>", "", "▁the"}, ValueArray},
	{"arr.u64", []uint64{1 << 63}, ValueArray},
	{"arr.i64", []int64{-1 << 62}, ValueArray},
	{"arr.f64", []float64{1e300}, ValueArray},
	{"arr.empty", []string{}, ValueArray},
	{"arr.nested", [][]int32{{1, 2}, {}, {3}}, ValueArray},
	{"arr.nested3", [][][]string{{{"a"}, {"b", "c"}}}, ValueArray},
}

// wantAny is what Value.Any returns for a value the Writer took.
func wantAny(x any) any {
	switch x := x.(type) {
	case [][]int32:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	case [][][]string:
		out := make([]any, len(x))
		for i, e := range x {
			inner := make([]any, len(e))
			for j, s := range e {
				inner[j] = s
			}
			out[i] = inner
		}
		return out
	}
	return x
}

type testTensor struct {
	name string
	typ  Type
	dims []uint64
}

var roundTripTensors = []testTensor{
	{"token_embd.weight", TypeF32, []uint64{8, 3}},
	{"blk.0.attn_q.weight", TypeQ8_0, []uint64{64, 2}},
	{"blk.0.ffn_down.weight", TypeQ4_K, []uint64{256}},
	{"norm", TypeF16, []uint64{3}},
	{"bf", TypeBF16, []uint64{2, 1, 1, 5}},
	{"ids", TypeI32, []uint64{1}},
}

// patterned is n bytes that differ from tensor to tensor.
func patterned(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*31 + i*7)
	}
	return b
}

func buildRoundTrip(t testing.TB, streamed bool) []byte {
	w := NewWriter()
	for _, kv := range everyValue {
		require.NoError(t, w.AddKV(kv.key, kv.value), kv.key)
	}
	for i, tt := range roundTripTensors {
		size := TensorInfo{Dims: tt.dims, Type: tt.typ}.Bytes()
		data := patterned(i, int(size))
		if streamed {
			require.NoError(t, w.AddTensorFunc(tt.name, tt.typ, tt.dims, func(out io.Writer) error {
				_, err := out.Write(data)
				return err
			}))
		} else {
			require.NoError(t, w.AddTensor(tt.name, tt.typ, tt.dims, data))
		}
	}
	var buf bytes.Buffer
	n, err := w.WriteTo(&buf)
	require.NoError(t, err)
	require.Equal(t, int64(buf.Len()), n)
	return buf.Bytes()
}

func TestWriterRoundTrip(t *testing.T) {
	for _, streamed := range []bool{false, true} {
		data := buildRoundTrip(t, streamed)
		f, err := Parse(data)
		require.NoError(t, err)
		assert.Equal(t, uint32(3), f.Version)
		assert.Equal(t, uint64(DefaultAlignment), f.Alignment)
		assert.Equal(t, int64(len(data)), f.Size())

		require.Len(t, f.KVs, len(everyValue))
		for i, kv := range everyValue {
			got := f.KVs[i]
			assert.Equal(t, kv.key, got.Key)
			assert.Equal(t, kv.typ, got.Type, kv.key)
			assert.Equal(t, wantAny(kv.value), got.Any(), kv.key)
		}
		require.Len(t, f.Tensors, len(roundTripTensors))
		for i, tt := range roundTripTensors {
			got := f.Tensors[i]
			assert.Equal(t, tt.name, got.Name)
			assert.Equal(t, tt.typ, got.Type)
			assert.Equal(t, tt.dims, got.Dims)
			assert.Zero(t, got.Offset%f.Alignment)
			assert.Equal(t, patterned(i, int(got.Bytes())), f.TensorData(got), tt.name)
		}
	}
}

func TestWriterAlignmentFromKV(t *testing.T) {
	w := NewWriter()
	require.NoError(t, w.AddKV(KeyAlignment, uint32(64)))
	require.NoError(t, w.AddTensor("a", TypeF32, []uint64{3}, make([]byte, 12)))
	require.NoError(t, w.AddTensor("b", TypeF32, []uint64{3}, make([]byte, 12)))
	var buf bytes.Buffer
	_, err := w.WriteTo(&buf)
	require.NoError(t, err)
	f, err := Parse(buf.Bytes())
	require.NoError(t, err)
	assert.Equal(t, uint64(64), f.Alignment)
	assert.Zero(t, f.DataOffset%64)
	assert.Equal(t, uint64(64), f.Tensors[1].Offset)
}

func TestWriterCopiesValuesFromAParsedFile(t *testing.T) {
	src, err := Parse(buildRoundTrip(t, false))
	require.NoError(t, err)
	w := NewWriter()
	for _, kv := range src.KVs {
		require.NoError(t, w.AddKV(kv.Key, kv), kv.Key)
	}
	var buf bytes.Buffer
	_, err = w.WriteTo(&buf)
	require.NoError(t, err)
	dst, err := Parse(buf.Bytes())
	require.NoError(t, err)
	assert.Equal(t, src.KVs, dst.KVs)
}

func TestWriterRefusesBadInput(t *testing.T) {
	w := NewWriter()
	require.NoError(t, w.AddKV("k", uint8(1)))
	require.NoError(t, w.AddTensor("t", TypeF32, []uint64{1}, make([]byte, 4)))
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"duplicate key", w.AddKV("k", uint8(2)), `key "k": duplicate key`},
		{"empty key", w.AddKV("", uint8(2)), "empty key"},
		{"key not UTF-8", w.AddKV("\xff", uint8(2)), "not valid UTF-8"},
		{"Go int", w.AddKV("n", 5), "type int has no GGUF type"},
		{"unsupported type", w.AddKV("m", map[string]int{}), "has no GGUF type"},
		{"string not UTF-8", w.AddKV("s", "\xff"), "is not valid UTF-8"},
		{"alignment not a power of two", w.AddKV(KeyAlignment, uint32(48)), "48 is not a power of two"},
		{"alignment signed", w.AddKV(KeyAlignment, int32(32)), "is int32, not an unsigned integer"},
		{"nested too deep", w.AddKV("deep", [][][][][]uint8{{{{{1}}}}}), "nested more than 4 deep"},
		{"cyclic nesting", w.AddKV("cycle", cyclic()), "nested more than 4 deep"},
		{"array of scalars in array of arrays", w.AddKV("mixed", []any{[]uint8{1}, uint8(2)}), "element 1 is uint8 in an array of arrays"},
		{"zero Value", w.AddKV("zero", Value{}), "uint8 value holds Go <nil>"},
		{"duplicate tensor", w.AddTensor("t", TypeF32, []uint64{1}, make([]byte, 4)), `tensor "t": duplicate tensor name`},
		{"wrong data size", w.AddTensor("u", TypeF32, []uint64{2}, make([]byte, 4)), "4 bytes of data, want 8"},
		{"unknown type", w.AddTensor("u", 99, []uint64{2}, nil), "unknown tensor type 99"},
		{"row not a block multiple", w.AddTensor("u", TypeQ4_0, []uint64{16}, nil), "not a multiple of Q4_0's block size 32"},
		{"no dims", w.AddTensor("u", TypeF32, nil, nil), "n_dims 0"},
		{"five dims", w.AddTensor("u", TypeF32, []uint64{1, 1, 1, 1, 1}, make([]byte, 4)), "n_dims 5"},
		{"name too long", w.AddTensor(string(make([]byte, 65)), TypeF32, []uint64{1}, make([]byte, 4)), "longer than 64 bytes"},
		{"nil write func", w.AddTensorFunc("u", TypeF32, []uint64{1}, nil), "nil write func"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Error(t, tt.err)
			assert.Contains(t, tt.err.Error(), tt.want)
		})
	}
	// The refused additions left the writer as it was.
	var buf bytes.Buffer
	_, err := w.WriteTo(&buf)
	require.NoError(t, err)
	f, err := Parse(buf.Bytes())
	require.NoError(t, err)
	assert.Len(t, f.KVs, 1)
	assert.Len(t, f.Tensors, 1)
}

// cyclic is an []any that holds itself.
func cyclic() []any {
	a := make([]any, 1)
	a[0] = a
	return a
}

func TestWriterTensorFuncMustWriteExactlyItsSize(t *testing.T) {
	tests := []struct {
		name  string
		write func(io.Writer) error
		want  string
	}{
		{"too few", func(w io.Writer) error { _, err := w.Write(make([]byte, 7)); return err }, "wrote 7 of 8 bytes"},
		{"too many", func(w io.Writer) error { _, err := w.Write(make([]byte, 9)); return err }, "more than the tensor's size"},
		{"its own error", func(io.Writer) error { return errors.New("disk on fire") }, "disk on fire"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWriter()
			require.NoError(t, w.AddTensorFunc("t", TypeF32, []uint64{2}, tt.write))
			_, err := w.WriteTo(io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), `tensor "t"`)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestWriteFileLeavesNoFileOnFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.gguf")
	w := NewWriter()
	require.NoError(t, w.AddTensorFunc("t", TypeF32, []uint64{2}, func(io.Writer) error { return errors.New("boom") }))
	err := w.WriteFile(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "boom")
	entries, _ := os.ReadDir(dir)
	assert.Empty(t, entries, "no file, temporary or final, is left behind")
}

func TestWriteFileThenOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gguf")
	w := NewWriter()
	require.NoError(t, w.AddKV("general.architecture", "llama"))
	require.NoError(t, w.AddTensor("t", TypeF32, []uint64{2}, []byte{1, 2, 3, 4, 5, 6, 7, 8}))
	require.NoError(t, w.WriteFile(path))
	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()
	ti, ok := f.Tensor("t")
	require.True(t, ok)
	assert.Equal(t, []byte{1, 2, 3, 4, 5, 6, 7, 8}, f.TensorData(ti))
	arch, _ := f.Lookup("general.architecture")
	s, err := arch.Str()
	require.NoError(t, err)
	assert.Equal(t, "llama", s)
	require.NoError(t, f.Close())
	assert.Nil(t, f.TensorData(ti), "a closed file has no data")
}
