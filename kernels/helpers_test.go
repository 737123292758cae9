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

// dotBound is the largest |out − ref| allowed for one dot of n values, given
// the operands (qw in the weight type, qa and its dequantized values da in the
// dot type) and abs = Σ|w_i·a_i| of the dequantized values.
type dotBound func(qw, qa []byte, da []float32, n int, abs float64) float64

// checkDot compares format typ's Dot on fresh random rows against the float64
// dot of the dequantized operands. Each dot must be within bound, and over all
// rows ‖out − ref‖/‖ref‖ ≤ relTol. The reference uses the same quantized
// operands, so the quantization error itself is not in the difference: only
// the float32 arithmetic of the kernel (and for the Q8_1 dot types the fp16
// rounding of the stored block sum s) is.
func checkDot(t *testing.T, typ gguf.Type, n int, bound dotBound, relTol float64) {
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
		require.LessOrEqual(t, math.Abs(out-ref), bound(qw, qa, da, n, abs), "row %d: out %g ref %g", r, out, ref)
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

// elementBound is for the float types: n products, one rounding each, summed
// in float32.
func elementBound(_, _ []byte, _ []float32, n int, abs float64) float64 {
	return recursiveSumTol(n, 1) * abs
}

// blockBound is for the Q8_0 dot types: exact integer block sums, then per
// block two float32 roundings (d_w·d_a, ·isum), nb terms summed in float32.
func blockBound(_, _ []byte, _ []float32, n int, abs float64) float64 {
	return recursiveSumTol(n/32, 2) * abs
}

// minTermBound is for the Q8_1 dot types (Q4_1, Q5_1), whose block term is
// d_w·d_a·isum + m_w·s_a. Two things differ from the reference:
//   - s_a is fp16(d_a·Σq_a), not the exact Σa_i: the difference
//     |m_w|·|s_a − Σa_i| is counted exactly;
//   - the float32 roundings (4 per block, then nb additions) are relative to
//     |d_w·d_a·isum| + |m_w·s_a| ≤ Σ|w_i·a_i| + |m_w|·(Σ|a_i| + |s_a|), since
//     q_w·d_w = w_i − m_w.
//
// m_w is at byte 2 of a Q4_1/Q5_1 block, s_a at byte 2 of a Q8_1 block.
func minTermBound(wBlockBytes int) dotBound {
	return func(qw, qa []byte, da []float32, n int, abs float64) float64 {
		mag, dev := abs, 0.0
		for b := 0; b < n/32; b++ {
			mw := math.Abs(float64(getF16(qw[b*wBlockBytes+2:])))
			sa := float64(getF16(qa[b*blockQ8_1+2:]))
			var sum, sumAbs float64
			for _, v := range da[b*32 : (b+1)*32] {
				sum += float64(v)
				sumAbs += math.Abs(float64(v))
			}
			mag += mw * (sumAbs + math.Abs(sa))
			dev += mw * math.Abs(sa-sum)
		}
		return recursiveSumTol(n/32, 4)*mag + dev
	}
}

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

// vals is 32 values, all def except those set in at.
func vals(def float32, at map[int]float32) []float32 {
	v := make([]float32, 32)
	for i := range v {
		v[i] = def
	}
	for i, x := range at {
		v[i] = x
	}
	return v
}

// qs16 is 16 nibble bytes, all def except those set in at.
func qs16(def byte, at map[int]byte) []byte {
	b := make([]byte, 16)
	for i := range b {
		b[i] = def
	}
	for i, x := range at {
		b[i] = x
	}
	return b
}

// checkRoundTrip quantizes random blocks at several scales and offsets and
// requires |x − dequantize(quantize(x))| ≤ bound(block, j) for each value j
// of each block.
func checkRoundTrip(t *testing.T, typ gguf.Type, bound func(x []float32, j int) float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(typ), 7))
	for _, scale := range []float32{1e-3, 1, 300} {
		for _, off := range []float32{0, 0.7, -3} {
			x := randFloats(rng, 32*64, (off-1)*scale, (off+1)*scale)
			y := dequantize(t, typ, quantize(t, typ, x), len(x))
			for b := 0; b < len(x)/32; b++ {
				blk := x[b*32 : (b+1)*32]
				for j := range blk {
					require.False(t, math.IsNaN(float64(y[b*32+j])), "block %d value %d not written", b, j)
					err := math.Abs(float64(blk[j] - y[b*32+j]))
					require.LessOrEqual(t, err, bound(blk, j), "scale %g offset %g block %d value %d (%g)", scale, off, b, j, blk[j])
				}
			}
		}
	}
}

// f16Err is |v − fp16(v)|, the error of storing v as fp16.
func f16Err(v float32) float64 { return math.Abs(float64(v - F16ToF32(F32ToF16(v)))) }

// newRand is a deterministic generator for seed.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
