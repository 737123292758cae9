package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/stretchr/testify/require"
)

// poison is what outputs are filled with before a call, so that values a
// function forgot to write show up.
const poison = 0xa5

func poisonBytes(b []byte) {
	for i := range b {
		b[i] = poison
	}
}

func poisonFloats(f []float32) {
	for i := range f {
		f[i] = float32(math.NaN())
	}
}

// randFloats returns n values uniform in [lo, hi).
func randFloats(rng *rand.Rand, n int, lo, hi float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = lo + (hi-lo)*rng.Float32()
	}
	return x
}

// mustFormat is FormatOf that fails the test.
func mustFormat(t testing.TB, typ gguf.Type) *Format {
	t.Helper()
	f, err := FormatOf(typ)
	require.NoError(t, err)
	require.Equal(t, typ, f.Type)
	return f
}

// quantize returns src converted to typ, in a fresh poisoned buffer.
func quantize(t testing.TB, typ gguf.Type, src []float32) []byte {
	t.Helper()
	dst := make([]byte, typ.RowBytes(len(src)))
	poisonBytes(dst)
	mustFormat(t, typ).Quantize(dst, src)
	return dst
}

// dequantize returns n values of typ from src, in a fresh poisoned buffer.
func dequantize(t testing.TB, typ gguf.Type, src []byte, n int) []float32 {
	t.Helper()
	dst := make([]float32, n)
	poisonFloats(dst)
	mustFormat(t, typ).Dequantize(dst, src)
	return dst
}

// block builds one block from its parts, in order.
func block(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// le16 is v as 2 little-endian bytes.
func le16(v uint16) []byte { return []byte{byte(v), byte(v >> 8)} }

// le32 is v as 4 little-endian bytes.
func le32(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }

// i8s is vs as int8 bytes.
func i8s(vs ...int) []byte {
	b := make([]byte, len(vs))
	for i, v := range vs {
		b[i] = byte(int8(v))
	}
	return b
}

// pad fills vs with zeros up to n values.
func pad[T any](vs []T, n int) []T {
	out := make([]T, n)
	copy(out, vs)
	return out
}

// checkDot compares format typ's Dot on fresh random rows against the float64
// dot of the dequantized operands. Each dot must be within
//
//	|out − ref| ≤ absTol(n) · Σ|w_i·a_i|,
//
// and over all rows ‖out − ref‖/‖ref‖ ≤ relTol. The reference uses the same
// quantized operands, so the quantization error itself is not in the
// difference: only the float32 arithmetic of the kernel (and for the Q8_1 dot
// types the fp16 rounding of the stored block sum s) is.
func checkDot(t *testing.T, typ gguf.Type, n int, absTol func(n int) float64, relTol float64) {
	t.Helper()
	f := mustFormat(t, typ)
	af := mustFormat(t, f.DotType)
	rng := rand.New(rand.NewPCG(uint64(typ), uint64(n)))
	const rows = 16
	a := randFloats(rng, n, -1, 1.5) // an offset keeps the dots away from zero
	qa := quantize(t, af.Type, a)
	da := dequantize(t, af.Type, qa, n)
	var num, den float64
	for r := 0; r < rows; r++ {
		w := randFloats(rng, n, -2, 1)
		qw := quantize(t, typ, w)
		dw := dequantize(t, typ, qw, n)
		var ref, abs float64
		for i := range dw {
			p := float64(dw[i]) * float64(da[i])
			ref += p
			abs += math.Abs(p)
		}
		out := float64(f.Dot(qw, qa, n))
		require.False(t, math.IsNaN(out), "row %d", r)
		require.NotZero(t, ref)
		require.LessOrEqual(t, math.Abs(out-ref), absTol(n)*abs, "row %d: out %g ref %g", r, out, ref)
		num += (out - ref) * (out - ref)
		den += ref * ref
	}
	rel := math.Sqrt(num / den)
	t.Logf("%v n=%d: relative error %.3g", typ, n, rel)
	require.LessOrEqual(t, rel, relTol)
}

// recursiveSumTol is the classic bound for float32 recursive summation of k
// terms each computed with m rounded float32 operations: (k+m)·2^-24
// relative to the sum of the terms' magnitudes (to first order).
func recursiveSumTol(k, m int) float64 { return float64(k+m) * 0x1p-24 * 1.01 }

// benchDot measures format typ's Dot on a row of n values; bytes/s counts the
// bytes of both operands.
func benchDot(b *testing.B, typ gguf.Type, n int) {
	f := mustFormat(b, typ)
	rng := rand.New(rand.NewPCG(1, 2))
	qw := quantize(b, typ, randFloats(rng, n, -1, 1))
	qa := quantize(b, f.DotType, randFloats(rng, n, -1, 1))
	b.SetBytes(int64(len(qw) + len(qa)))
	var sink float32
	for b.Loop() {
		sink += f.Dot(qw, qa, n)
	}
	_ = sink
}
