package kernels

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFloatRows(t *testing.T) {
	in := []float32{1, -2.5, 0.1, float32(math.Inf(-1)), 1e-30, 65520}
	t.Run("F32 copies the bits", func(t *testing.T) {
		b := quantize(t, gguf.TypeF32, in)
		for i, v := range in {
			assert.Equal(t, math.Float32bits(v), binary.LittleEndian.Uint32(b[4*i:]))
		}
		assert.Equal(t, in, dequantize(t, gguf.TypeF32, b, len(in)))
	})
	t.Run("F16", func(t *testing.T) {
		b := quantize(t, gguf.TypeF16, in)
		assert.Equal(t, block(le16(0x3c00), le16(0xc100), le16(0x2e66), le16(0xfc00), le16(0), le16(0x7c00)), b)
		want := []float32{1, -2.5, F16ToF32(0x2e66), float32(math.Inf(-1)), 0, float32(math.Inf(1))}
		assert.Equal(t, want, dequantize(t, gguf.TypeF16, b, len(in)))
	})
	t.Run("BF16", func(t *testing.T) {
		b := quantize(t, gguf.TypeBF16, in)
		assert.Equal(t, le16(0x3f80), b[0:2])
		assert.Equal(t, le16(0xc020), b[2:4])
		assert.Equal(t, le16(0x3dcd), b[4:6]) // 0.1 = 0x3dcccccd → rounds up
		got := dequantize(t, gguf.TypeBF16, b, len(in))
		for i, v := range in {
			assert.Equal(t, BF16ToF32(F32ToBF16(v)), got[i])
		}
	})
}

// TestFloatDots: each product is one float32 rounding, added to a float32
// accumulator in index order: n terms.
func TestFloatDots(t *testing.T) {
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16} {
		for _, n := range []int{1, 7, 1000, 4096} {
			checkDot(t, typ, n, elementBound, 1e-5)
		}
	}
}

// TestDotOrder: the result depends only on the values and n: the same row
// dotted inside a longer buffer, or twice, gives the same bits.
func TestDotOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeQ8_0, gguf.TypeQ8_1} {
		f := mustFormat(t, typ)
		const n = 512
		w := quantize(t, typ, randFloats(rng, n, -1, 1))
		a := quantize(t, f.DotType, randFloats(rng, 2*n, -1, 1))
		first := f.Dot(w, a, n)
		require.Equal(t, math.Float32bits(first), math.Float32bits(f.Dot(w, a[:f.DotType.RowBytes(n)], n)), "%v", typ)
		require.Equal(t, math.Float32bits(first), math.Float32bits(f.Dot(w, a, n)), "%v", typ)
	}
}

func TestFormatOf(t *testing.T) {
	dotTypes := map[gguf.Type]gguf.Type{
		gguf.TypeF32: gguf.TypeF32, gguf.TypeF16: gguf.TypeF16, gguf.TypeBF16: gguf.TypeBF16,
		gguf.TypeQ4_0: gguf.TypeQ8_0, gguf.TypeQ5_0: gguf.TypeQ8_0, gguf.TypeQ8_0: gguf.TypeQ8_0,
		gguf.TypeQ4_1: gguf.TypeQ8_1, gguf.TypeQ5_1: gguf.TypeQ8_1, gguf.TypeQ8_1: gguf.TypeQ8_1,
		gguf.TypeQ2_K: gguf.TypeQ8_K, gguf.TypeQ3_K: gguf.TypeQ8_K, gguf.TypeQ4_K: gguf.TypeQ8_K,
		gguf.TypeQ5_K: gguf.TypeQ8_K, gguf.TypeQ6_K: gguf.TypeQ8_K, gguf.TypeQ8_K: gguf.TypeQ8_K,
	}
	for typ, dot := range dotTypes {
		f := mustFormat(t, typ)
		assert.Equal(t, dot, f.DotType, "%v", typ)
		assert.NotNil(t, f.Quantize, "%v", typ)
		assert.NotNil(t, f.Dequantize, "%v", typ)
		assert.NotNil(t, f.Dot, "%v", typ)
	}
	for _, typ := range []gguf.Type{gguf.TypeI8, gguf.TypeI32, gguf.Type(99)} {
		_, err := FormatOf(typ)
		require.Error(t, err)
		assert.Contains(t, err.Error(), typ.String())
	}
	assert.Panics(t, func() { QuantizeRow(gguf.TypeI8, nil, nil) })
}

func BenchmarkDotF32(b *testing.B)  { benchDot(b, gguf.TypeF32, 4096) }
func BenchmarkDotF16(b *testing.B)  { benchDot(b, gguf.TypeF16, 4096) }
func BenchmarkDotBF16(b *testing.B) { benchDot(b, gguf.TypeBF16, 4096) }
