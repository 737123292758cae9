package kernels

import (
	"math"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vals256 is 256 values, all def except the ranges and points set in at
// (a key lo<<16|hi sets lo..hi-1; a plain key sets one value).
func vals256(def float32, spans map[[2]int]float32, at map[int]float32) []float32 {
	v := make([]float32, 256)
	for i := range v {
		v[i] = def
	}
	for r, x := range spans {
		for i := r[0]; i < r[1]; i++ {
			v[i] = x
		}
	}
	for i, x := range at {
		v[i] = x
	}
	return v
}

// zeros is n zero bytes with the given bytes set.
func zeros(n int, at map[int]byte) []byte {
	b := make([]byte, n)
	for i, x := range at {
		b[i] = x
	}
	return b
}

func TestQ2_KDequantize(t *testing.T) {
	// Sub-block 0: scale 2, min 3; sub-block 2: scale 1, min 0; sub-block
	// 15: scale 15, min 1. d = 1, dmin = 0.5: value = d·s·q − dmin·m.
	// Value 0 is bits 0-1 of qs[0] (q = 3): 2·3 − 1.5 = 4.5.
	// Value 33 (half 0, shift 2, l = 1) is bits 2-3 of qs[1] (q = 1): 1.
	// Value 255 (half 1, shift 6, l = 31) is bits 6-7 of qs[63] (q = 2):
	// 15·2 − 0.5 = 29.5. The rest of sub-blocks 0 and 15 are −dmin·m.
	b := block(zeros(16, map[int]byte{0: 0x32, 2: 0x01, 15: 0x1f}), zeros(64, map[int]byte{0: 0x03, 1: 0x04, 63: 0x80}), le16(0x3c00), le16(0x3800))
	require.Len(t, b, gguf.TypeQ2_K.BlockBytes())
	want := vals256(0, map[[2]int]float32{{1, 16}: -1.5, {240, 255}: -0.5}, map[int]float32{0: 4.5, 33: 1, 255: 29.5})
	assert.Equal(t, want, dequantize(t, gguf.TypeQ2_K, b, 256))
}

func TestQ3_KDequantize(t *testing.T) {
	// Scales are 6-bit, biased by 32: low nibbles 0 and high bits 2 (bytes
	// 8-11 = 0xaa) make every scale 32 − 32 = 0. Sub-block 0 gets low
	// nibble 1 (scale 1); sub-block 9 gets low nibble 13 (high nibble of
	// byte 1) and high bits 01 (bits 4-5 of byte 9 → 0x9a): 29 − 32 = −3.
	// hmask all set: q = low bits. Value 0: qs[0] = 3 → 0.5·1·3 = 1.5.
	// Value 150 (half 1, shift 0, l = 22): bits 0-1 of qs[54] = 1, and its
	// hmask bit (bit 4 of hmask[22]) clear: q = 1 − 4 = −3 → 0.5·−3·−3 = 4.5.
	hmask := make([]byte, 32)
	for i := range hmask {
		hmask[i] = 0xff
	}
	hmask[22] = 0xef
	b := block(hmask, zeros(64, map[int]byte{0: 3, 54: 1}), zeros(12, map[int]byte{0: 0x01, 1: 0xd0, 8: 0xaa, 9: 0x9a, 10: 0xaa, 11: 0xaa}), le16(0x3800))
	require.Len(t, b, gguf.TypeQ3_K.BlockBytes())
	want := vals256(0, nil, map[int]float32{0: 1.5, 150: 4.5})
	assert.Equal(t, want, dequantize(t, gguf.TypeQ3_K, b, 256))
}

// q4KScales: sub-block 0 scale 2 min 3 (bytes 0 and 4); sub-block 5 scale
// 17 and min 33: low nibbles in byte 9 (0x11), top bits of the scale in byte
// 1 (01 → 0x40) and of the min in byte 5 (10 → 0x80). All others 0.
var q4KScales = zeros(12, map[int]byte{0: 2, 4: 3, 1: 0x40, 5: 0x80, 9: 0x11})

func TestQ4_KDequantize(t *testing.T) {
	// d = 1, dmin = 0.5. Value 0 = low nibble of qs[0] (7): 2·7 − 1.5 = 12.5.
	// Value 160 (64·2 + 32) = high nibble of qs[64] (9): 17·9 − 16.5 = 136.5.
	b := block(le16(0x3c00), le16(0x3800), q4KScales, zeros(128, map[int]byte{0: 0x07, 64: 0x90}))
	require.Len(t, b, gguf.TypeQ4_K.BlockBytes())
	want := vals256(0, map[[2]int]float32{{1, 32}: -1.5, {161, 192}: -16.5}, map[int]float32{0: 12.5, 160: 136.5})
	assert.Equal(t, want, dequantize(t, gguf.TypeQ4_K, b, 256))
}

func TestQ5_KDequantize(t *testing.T) {
	// As Q4_K, plus fifth bits: value 3 is bit 0 of qh[3] (q = 16 →
	// 2·16 − 1.5 = 30.5); value 160 is bit 5 of qh[0] (q = 9 + 16 = 25 →
	// 17·25 − 16.5 = 408.5).
	b := block(le16(0x3c00), le16(0x3800), q4KScales, zeros(32, map[int]byte{0: 0x20, 3: 0x01}), zeros(128, map[int]byte{0: 0x07, 64: 0x90}))
	require.Len(t, b, gguf.TypeQ5_K.BlockBytes())
	want := vals256(0, map[[2]int]float32{{1, 32}: -1.5, {161, 192}: -16.5}, map[int]float32{0: 12.5, 3: 30.5, 160: 408.5})
	assert.Equal(t, want, dequantize(t, gguf.TypeQ5_K, b, 256))
}

func TestQ6_KDequantize(t *testing.T) {
	// d = 0.25; scale 1 for sub-block 0, −2 for sub-block 13, 0 elsewhere.
	// Zero bytes are q = −32: 0.25·1·−32 = −8 and 0.25·−2·−32 = 16.
	// Value 0: low nibble of ql[0] = 5, bits 0-1 of qh[0] = 2: q = 5 + 32 − 32.
	// Value 210 (half 1, k = 2, l = 18): high nibble of ql[64 + 18] = 15,
	// bits 4-5 of qh[32 + 18] = 3: q = 15 + 48 − 32 = 31 → 0.25·−2·31.
	b := block(zeros(128, map[int]byte{0: 0x05, 82: 0xf0}), zeros(64, map[int]byte{0: 0x02, 50: 0x30}), zeros(16, map[int]byte{0: 1, 13: 0xfe}), le16(0x3400))
	require.Len(t, b, gguf.TypeQ6_K.BlockBytes())
	want := vals256(0, map[[2]int]float32{{1, 16}: -8, {208, 224}: 16}, map[int]float32{0: 1.25, 210: -15.5})
	assert.Equal(t, want, dequantize(t, gguf.TypeQ6_K, b, 256))
}

func TestQ8_KDequantize(t *testing.T) {
	// d = 0.5 (float32), q[0] = 3, q[255] = −128; the sums are not read.
	b := block(le32(0x3f000000), zeros(256, map[int]byte{0: 3, 255: 0x80}), zeros(32, nil))
	require.Len(t, b, gguf.TypeQ8_K.BlockBytes())
	want := vals256(0, nil, map[int]float32{0: 1.5, 255: -64})
	assert.Equal(t, want, dequantize(t, gguf.TypeQ8_K, b, 256))
}

func TestQ8_KQuantize(t *testing.T) {
	// max = −2 (the first of largest magnitude): iscale = 127/2, d = −2/127...
	// with d's sign from max: iscale = −127/−2 = 63.5, d = 1/63.5.
	// 1 → 63.5 → 64 (half to even); 0.5 → 31.75 → 32; −2 → −127; 2 → 127.
	x := vals256(0, nil, map[int]float32{0: 1, 1: 0.5, 2: -2, 3: 2, 17: 1})
	got := quantize(t, gguf.TypeQ8_K, x)
	require.Equal(t, float32(1/63.5), getF32(got))
	q := got[q8_KQsOffs:q8_KBsumsOffs]
	require.Equal(t, []int8{64, 32, -127, 127}, []int8{int8(q[0]), int8(q[1]), int8(q[2]), int8(q[3])})
	require.EqualValues(t, 64+32-127+127, q8KBsum(got, 0))
	require.EqualValues(t, 64, q8KBsum(got, 1))
	// All zero: d = 0, quants and sums 0.
	require.Equal(t, make([]byte, blockQ8_K), quantize(t, gguf.TypeQ8_K, make([]float32, 256)))
}

// kTypes are the K types with their bits per quant.
var kTypes = []struct {
	typ  gguf.Type
	bits int
}{{gguf.TypeQ2_K, 2}, {gguf.TypeQ3_K, 3}, {gguf.TypeQ4_K, 4}, {gguf.TypeQ5_K, 5}, {gguf.TypeQ6_K, 6}, {gguf.TypeQ8_K, 8}}

// kF16Factor is the largest integer that multiplies an fp16 super-block
// scale in a value (scale levels × quant levels, plus the min's): d's
// rounding to fp16, at worst half a subnormal ulp (2^-25) for tiny blocks,
// is multiplied by it.
var kF16Factor = map[gguf.Type]float64{gguf.TypeQ2_K: 15*3 + 15, gguf.TypeQ3_K: 32 * 4, gguf.TypeQ4_K: 63*15 + 63, gguf.TypeQ5_K: 63*31 + 63, gguf.TypeQ6_K: 128 * 32}

// TestKRoundTrip: dequantize(quantize(x)) is within one step of a grid
// spanning the super-block, |err| ≤ 2A/(2^bits − 1) with A = max|x| over the
// 256 values (Q8_K: half a step, A/254). Why: every sub-block's final scale
// is at most about the super-block's, and a value is rounded to the nearest
// level of its sub-block's grid (half a step); the scales' own 6- or 8-bit
// quantization and the search, which may shrink a scale so that an extreme
// value clamps, account for the other half step. Measured worst cases are
// well inside (logged); the fp16 rounding of the super-block scales adds
// kF16Factor·2^-25. The RMS error relative to the values' RMS (normal data
// with 1% of the values 8 times larger) must also stay under the measured
// figure plus about 15%.
func TestKRoundTrip(t *testing.T) {
	rms := map[gguf.Type]float64{gguf.TypeQ2_K: 0.40, gguf.TypeQ3_K: 0.22, gguf.TypeQ4_K: 0.11, gguf.TypeQ5_K: 0.055, gguf.TypeQ6_K: 0.031, gguf.TypeQ8_K: 0.022}
	for _, k := range kTypes {
		t.Run(k.typ.String(), func(t *testing.T) {
			rng := newRand(uint64(k.typ))
			for _, scale := range []float64{1e-3, 1, 300} {
				for _, off := range []float64{0, 0.7, -3} {
					x := make([]float32, 256*32)
					for i := range x {
						x[i] = float32((rng.NormFloat64() + off) * scale)
						if rng.IntN(100) == 0 {
							x[i] *= 8
						}
					}
					y := dequantize(t, k.typ, quantize(t, k.typ, x), len(x))
					var worst, num, den float64
					for b := 0; b < len(x)/256; b++ {
						a := float64(absMax(x[b*256 : (b+1)*256]))
						bound := 2*a/float64(int(1)<<k.bits-1) + 0x1p-25*kF16Factor[k.typ]
						if k.typ == gguf.TypeQ8_K {
							bound = a / 254 * (1 + 1e-6)
						}
						for i := b * 256; i < (b+1)*256; i++ {
							require.False(t, math.IsNaN(float64(y[i])), "value %d not written", i)
							e := math.Abs(float64(x[i] - y[i]))
							require.LessOrEqual(t, e, bound, "scale %g offset %g value %d (%g)", scale, off, i, x[i])
							worst = math.Max(worst, e/bound)
							num += e * e
							den += float64(x[i]) * float64(x[i])
						}
					}
					rel := math.Sqrt(num / den)
					if off == 0 {
						require.LessOrEqual(t, rel, rms[k.typ], "scale %g", scale)
					}
					t.Logf("scale %g offset %g: worst error %.2f of the bound, relative RMS %.4f", scale, off, worst, rel)
				}
			}
		})
	}
}

// kBound is the per-dot bound for the K dots: exact integer sums per block,
// then about 5 float32 roundings per block and nb additions, relative to
// the magnitude of the block terms. For the types with mins (Q2_K, Q4_K,
// Q5_K) |d·isum| ≤ Σ|w·a| + |min part| and |dmin·summs| ≤ Σ|m_i·a_i|, where
// m_i is value i's min term, found by dequantizing the block with its quants
// zeroed (quantsAt is where they are).
func kBound(typ gguf.Type, quantsAt [2]int) dotBound {
	return func(qw, _ []byte, da []float32, n int, abs float64) float64 {
		mag := abs
		if quantsAt[1] > 0 {
			z := append([]byte(nil), qw...)
			bb := typ.BlockBytes()
			for b := 0; b < len(z)/bb; b++ {
				clear(z[b*bb+quantsAt[0] : b*bb+quantsAt[1]])
			}
			mins := make([]float32, n)
			DequantizeRow(typ, mins, z)
			for i := range mins {
				mag += 2 * math.Abs(float64(mins[i])*float64(da[i]))
			}
		}
		return recursiveSumTol(n/256, 5) * mag
	}
}

// TestKDot: each K dot against the float64 dot of the dequantized operands
// (the same quantized data, so only the kernel's float32 arithmetic
// differs), within kBound per dot and 1e-6 relative over 16 rows (measured:
// at most 1.6e-7).
func TestKDot(t *testing.T) {
	quants := map[gguf.Type][2]int{
		gguf.TypeQ2_K: {q2_KQsOffs, q2_KDOffs},
		gguf.TypeQ4_K: {q4_KQsOffs, blockQ4_K},
		gguf.TypeQ5_K: {q5_KQhOffs, blockQ5_K},
	}
	for _, k := range kTypes {
		t.Run(k.typ.String(), func(t *testing.T) {
			for _, n := range []int{256, 1024, 4096} {
				checkDot(t, k.typ, n, kBound(k.typ, quants[k.typ]), 1e-6)
			}
		})
	}
}

func BenchmarkDotQ2_K(b *testing.B) { benchDot(b, gguf.TypeQ2_K, 4096) }
func BenchmarkDotQ3_K(b *testing.B) { benchDot(b, gguf.TypeQ3_K, 4096) }
func BenchmarkDotQ4_K(b *testing.B) { benchDot(b, gguf.TypeQ4_K, 4096) }
func BenchmarkDotQ5_K(b *testing.B) { benchDot(b, gguf.TypeQ5_K, 4096) }
func BenchmarkDotQ6_K(b *testing.B) { benchDot(b, gguf.TypeQ6_K, 4096) }
