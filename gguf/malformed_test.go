package gguf

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tinyFile is a small valid file: one KV and two F32 tensors.
func tinyFile() []byte {
	g := newFile(3, 2, 1)
	g.kv("general.architecture", ValueString).str("llama")
	g.tensor("a", []uint64{4}, TypeF32, 0)
	g.tensor("b", []uint64{2, 2}, TypeF32, 32)
	return g.pad(32).zeros(32 + 16).bytes()
}

func TestParseTinyFile(t *testing.T) {
	f, err := Parse(tinyFile())
	require.NoError(t, err)
	assert.Len(t, f.Tensors, 2)
	b, ok := f.Tensor("b")
	require.True(t, ok)
	assert.Len(t, f.TensorData(b), 16)
}

func TestParseRejectsMalformedFiles(t *testing.T) {
	tensorFile := func(tensors func(g *fileBuilder), n uint64, dataBytes int) []byte {
		g := newFile(3, n, 0)
		tensors(g)
		return g.pad(32).zeros(dataBytes).bytes()
	}
	oneTensor := func(dims []uint64, typ Type, offset uint64, dataBytes int) []byte {
		return tensorFile(func(g *fileBuilder) { g.tensor("t", dims, typ, offset) }, 1, dataBytes)
	}
	oneKV := func(key string, typ ValueType, value func(g *fileBuilder)) []byte {
		g := newFile(3, 0, 1).kv(key, typ)
		value(g)
		return g.bytes()
	}
	nested := func(depth int) []byte {
		g := newFile(3, 0, 1).kv("deep", ValueArray)
		for range depth - 1 {
			g.u32(uint32(ValueArray)).u64(1)
		}
		return g.u32(uint32(ValueUint8)).u64(1).raw(7).bytes()
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty file", nil, "truncated magic"},
		{"wrong magic", append([]byte("GGML"), newFile(3, 0, 0).bytes()[4:]...), `bad magic "GGML"`},
		{"version 1", newFile(1, 0, 0).bytes(), "version 1 is not supported"},
		{"version 4", newFile(4, 0, 0).bytes(), "version 4 is not supported"},
		{"big-endian file", newFile(3<<24, 0, 0).bytes(), "big-endian"},
		{"absurd kv count", newFile(3, 0, 1<<40).bytes(), "kv count 1099511627776 is implausible"},
		{"absurd tensor count", newFile(3, 1<<40, 0).bytes(), "tensor count 1099511627776 is implausible"},
		{"absurd key length", newFile(3, 0, 1).u64(1 << 60).zeros(20).bytes(), "key length 1152921504606846976"},
		{"absurd string length", oneKV("s", ValueString, func(g *fileBuilder) { g.u64(1 << 62) }), `key "s": string length 4611686018427387904`},
		{"absurd array length", oneKV("a", ValueArray, func(g *fileBuilder) { g.u32(uint32(ValueUint32)).u64(1 << 61) }), `key "a": array of uint32 length 2305843009213693952`},
		{"absurd string array length", oneKV("a", ValueArray, func(g *fileBuilder) { g.u32(uint32(ValueString)).u64(3).str("x") }), "length 3 at offset"},
		{"unknown value type", oneKV("k", 13, func(g *fileBuilder) { g.u32(0) }), `key "k": unknown value type 13`},
		{"unknown array element type", oneKV("k", ValueArray, func(g *fileBuilder) { g.u32(99).u64(0) }), "unknown array element type 99"},
		{"arrays nested past the limit", nested(MaxArrayDepth + 1), "nested more than 4 deep"},
		{"bool byte 2", oneKV("b", ValueBool, func(g *fileBuilder) { g.raw(2) }), `key "b": bool byte 2`},
		{"bool array byte 7", oneKV("b", ValueArray, func(g *fileBuilder) { g.u32(uint32(ValueBool)).u64(2).raw(1, 7) }), "bool byte 7"},
		{"key not UTF-8", oneKV("k\xff", ValueUint8, func(g *fileBuilder) { g.raw(1) }), `kv 0: key at offset 32 is not valid UTF-8: "k\xff"`},
		{"string value not UTF-8", oneKV("k", ValueString, func(g *fileBuilder) { g.str("\xc3(") }), `key "k": string at offset`},
		{"empty key", oneKV("", ValueUint8, func(g *fileBuilder) { g.raw(1) }), "empty key"},
		{"duplicate key", func() []byte {
			g := newFile(3, 0, 2)
			g.kv("k", ValueUint8).raw(1).kv("k", ValueUint8).raw(2)
			return g.bytes()
		}(), `key "k": duplicate key`},
		{"alignment not a power of two", oneKV(KeyAlignment, ValueUint32, func(g *fileBuilder) { g.u32(24) }), `key "general.alignment": 24 is not a power of two`},
		{"alignment zero", oneKV(KeyAlignment, ValueUint64, func(g *fileBuilder) { g.u64(0) }), "0 is not a power of two"},
		{"alignment signed", oneKV(KeyAlignment, ValueInt32, func(g *fileBuilder) { g.u32(32) }), "is int32, not an unsigned integer"},
		{"n_dims 0", oneTensor(nil, TypeF32, 0, 0), `tensor "t": n_dims 0 is not in 1..4`},
		{"n_dims 5", oneTensor([]uint64{1, 1, 1, 1, 1}, TypeF32, 0, 4), "n_dims 5 is not in 1..4"},
		{"dim 0", oneTensor([]uint64{4, 0}, TypeF32, 0, 0), "dim 1 is 0"},
		{"dims product overflows", oneTensor([]uint64{1 << 32, 1 << 32}, TypeF32, 0, 0), "element count overflows"},
		{"bytes overflow", oneTensor([]uint64{1 << 62, 2}, TypeF32, 0, 0), "size in bytes overflows"},
		{"unknown tensor type", oneTensor([]uint64{4}, 5, 0, 16), "unknown tensor type 5"},
		{"row not a multiple of the block size", oneTensor([]uint64{40}, TypeQ8_0, 0, 64), "row length 40 is not a multiple of Q8_0's block size 32"},
		{"misaligned tensor offset", oneTensor([]uint64{4}, TypeF32, 4, 32), "offset 4 is not a multiple of the alignment 32"},
		{"tensor data past end", oneTensor([]uint64{64}, TypeF32, 0, 100), `tensor "t": data [64, 320) past end of file (size 164)`},
		{"tensor offset past end", oneTensor([]uint64{4}, TypeF32, 1<<40, 16), "offset 1099511627776 (absolute 1099511627840) is past end of file"},
		{"data section past end", oneTensor([]uint64{4}, TypeF32, 0, 0)[:60], "data section at offset 64 is past end of file (size 60)"},
		{"empty tensor name", tensorFile(func(g *fileBuilder) { g.tensor("", []uint64{4}, TypeF32, 0) }, 1, 16), "empty name"},
		{"duplicate tensor name", tensorFile(func(g *fileBuilder) {
			g.tensor("w", []uint64{4}, TypeF32, 0).tensor("w", []uint64{4}, TypeF32, 32)
		}, 2, 64), `tensor "w": duplicate tensor name`},
		{"overlapping tensor data", tensorFile(func(g *fileBuilder) {
			g.tensor("x", []uint64{16}, TypeF32, 0).tensor("y", []uint64{4}, TypeF32, 32)
		}, 2, 64), `tensors "x" [0, 64) and "y" [32, 48) overlap`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.data)
			require.Error(t, err)
			assert.Nil(t, f)
			assert.Contains(t, err.Error(), tt.want)
			assert.Regexp(t, "^gguf: ", err.Error())
		})
	}
}

func TestParseAcceptsNestingAtTheLimit(t *testing.T) {
	g := newFile(3, 0, 1).kv("deep", ValueArray)
	for range MaxArrayDepth - 1 {
		g.u32(uint32(ValueArray)).u64(1)
	}
	f, err := Parse(g.u32(uint32(ValueUint8)).u64(1).raw(7).bytes())
	require.NoError(t, err)
	v, _ := f.Lookup("deep")
	assert.Equal(t, []any{[]any{[]any{[]uint8{7}}}}, v.Any())
}

func TestParseRejectsEveryTruncation(t *testing.T) {
	data := tinyFile()
	for n := range len(data) {
		_, err := Parse(data[:n])
		require.Error(t, err, "truncated to %d of %d bytes", n, len(data))
		assert.Regexp(t, truncationError, err.Error())
	}
}

// truncationError matches the ways a cut-short file is reported.
const truncationError = `^gguf: .*(truncated|implausible|exceeds the \d+ bytes left|only \d+ bytes left|past end of file)`

func TestParseAcceptsAlignmentOfAnyUnsignedType(t *testing.T) {
	for _, typ := range []ValueType{ValueUint8, ValueUint16, ValueUint32, ValueUint64} {
		g := newFile(2, 1, 1).kv(KeyAlignment, typ)
		value := make([]byte, typ.fixedSize()) // 64, little-endian
		value[0] = 64
		g.raw(value...)
		g.tensor("t", []uint64{4}, TypeF32, 0)
		f, err := Parse(g.pad(64).zeros(16).bytes())
		require.NoError(t, err, typ)
		assert.Equal(t, uint64(64), f.Alignment)
		assert.Zero(t, f.DataOffset%64)
		assert.Equal(t, uint32(2), f.Version)
	}
}
