package kernels

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// iq4Types are the two types on the non-linear table.
var iq4Types = []gguf.Type{gguf.TypeIQ4_NL, gguf.TypeIQ4_XS}

func TestIQ4Index(t *testing.T) {
	tests := []struct {
		x    float32
		want uint8
	}{
		{-1000, 0}, {-127, 0}, {-115.5, 1}, {-115.6, 0}, // midpoint of −127 and −104: ties go up
		{-4.5, 8}, {-4.51, 7}, {0, 8}, {float32(math.Copysign(0, -1)), 8}, // 0 is nearest level 1
		{7, 9}, {6.99, 8}, {101, 15}, {100.99, 14}, {113, 15}, {1e9, 15},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, iq4Index(tt.x), "x = %v", tt.x)
	}
	// Every level maps to itself.
	for i, l := range iq4Levels {
		require.Equal(t, uint8(i), iq4Index(float32(l)))
	}
}

func TestIQ4_NLDequantize(t *testing.T) {
	// d = 0.5; byte 0 = 0xf0: value 0 = −127·0.5, value 16 = 113·0.5;
	// byte 1 = 0x18: value 1 = 1·0.5, value 17 = −104·0.5; 0x77 is level −10.
	b := block(le16(0x3800), qs16(0x77, map[int]byte{0: 0xf0, 1: 0x18}))
	require.Len(t, b, gguf.TypeIQ4_NL.BlockBytes())
	want := vals(-5, map[int]float32{0: -63.5, 16: 56.5, 1: 0.5, 17: -52})
	assert.Equal(t, want, dequantize(t, gguf.TypeIQ4_NL, b, 32))
}

func TestIQ4_XSDequantize(t *testing.T) {
	// d = 0.25. 6-bit scales ls (value scale d·(ls − 32)): sub-block 0 ls = 33
	// (low nibble 1 in scales_l[0], high bits 2), sub-block 5 ls = 0, sub-block
	// 7 ls = 63 (low nibble 15 high in scales_l[3], high bits 3), the others
	// 32 (high bits 2): scales_h = 2 | 2<<2 | 2<<4 | 2<<6 | 2<<8 | 0<<10 |
	// 2<<12 | 3<<14 = 0xe2aa. Indexes are 8 (level 1) except: qs[0] = 0xf0
	// (value 0 level −127, value 16 level 113), qs[16·5 + 3] = 0x0f (value 163
	// level 113, value 179 level −127), qs[16·7 + 15] = 0x7e (value 239 level
	// 89, value 255 level −10).
	qs := make([]byte, 128)
	for i := range qs {
		qs[i] = 0x88
	}
	qs[0], qs[83], qs[127] = 0xf0, 0x0f, 0x7e
	b := block(le16(0x3400), le16(0xe2aa), []byte{0x01, 0, 0, 0xf0}, qs)
	require.Len(t, b, gguf.TypeIQ4_XS.BlockBytes())
	want := vals256(0, map[[2]int]float32{{0, 32}: 0.25, {160, 192}: -8, {224, 256}: 7.75},
		map[int]float32{0: -31.75, 16: 28.25, 163: -904, 179: 1016, 239: 689.75, 255: -77.5})
	assert.Equal(t, want, dequantize(t, gguf.TypeIQ4_XS, b, 256))
}

// exactPair is a block on which one grid of the scale search fits exactly:
// sign·(−127, 113)·s at values 0 and 1, zeros elsewhere (weight x² = 0).
func exactPair(n int, sign, s float32, at int) []float32 {
	x := make([]float32, n)
	x[at], x[at+1] = -127*sign*s, 113*sign*s
	return x
}

func TestIQ4_NLQuantize(t *testing.T) {
	// Levels for (−127, 113) at d = 1 (or (127, −113) at d = −1): value 0
	// index 0, value 1 index 15, zeros index 8 (level 1, the nearest to 0).
	pairQs := qs16(0x88, map[int]byte{0: 0x80, 1: 0x8f})
	tests := []struct {
		name string
		in   []float32
		want []byte
	}{
		{
			// Largest magnitude below 1e-15: scale 0 (+0), every index 8.
			"all zero", make([]float32, 32), block(le16(0x0000), qs16(0x88, nil)),
		},
		{
			// max = −127. The first guess d = max/127 = −1 maps the pair to
			// levels (113, −104), which fit only approximately (d ≈ −1.1).
			// Every grid id = (t − 127)/max, t = −7..7, lies in
			// [120/127, 134/127] and maps −127 to index 0 (≤ −120 is nearer
			// −127 than −104) and 113 to index 15 (≥ 106.8 is nearer 113 than
			// 89): an exact fit, d = Σwqx/Σwq² = 1, better than the first
			// guess; the later grids give the same sums, not strictly better.
			"exact fit at d = 1", exactPair(32, 1, 1, 0), block(le16(0x3c00), pairQs),
		},
		{
			// Mirrored: max = 127, the exact fit has d = −1 (Σwqx = −Σwq²).
			"sign of the largest magnitude", exactPair(32, -1, 1, 0), block(le16(0xbc00), pairQs),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, quantize(t, gguf.TypeIQ4_NL, tt.in))
		})
	}
}

func TestIQ4_XSQuantize(t *testing.T) {
	t.Run("all zero", func(t *testing.T) {
		// Every sub-block scale 0: d = −0/32 = −0 (fp16 0x8000), every l = 0,
		// stored as 32 (low nibbles 0, high bits 2: scales_h 0xaaaa), every
		// index 8.
		want := block(le16(0x8000), le16(0xaaaa), make([]byte, 4), bytes.Repeat([]byte{0x88}, 128))
		assert.Equal(t, want, quantize(t, gguf.TypeIQ4_XS, make([]float32, 256)))
	})
	t.Run("two exact sub-blocks", func(t *testing.T) {
		// Sub-block 0 is the IQ4_NL pair at scale 1, sub-block 1 the same
		// pair doubled (scale 2: every sum doubles exactly), the rest zero
		// (scale 0). max = 2: d = −2/32 = −0.0625 (fp16 0xac00), id = −16:
		// l = −16, −32, then 0 six times; stored l + 32 = 16, 0, 32: low
		// nibbles all 0, high bits 1, 0, then 2 (scales_h 0xaaa1).
		// d·l = 1 and 2 give sub-blocks 0 and 1 the IQ4_NL pair's indexes;
		// d·0 = −0 gives index 8.
		x := exactPair(256, 1, 1, 0)
		copy(x[32:], exactPair(32, 1, 2, 0))
		pair := qs16(0x88, map[int]byte{0: 0x80, 1: 0x8f})
		want := block(le16(0xac00), le16(0xaaa1), make([]byte, 4), pair, pair, bytes.Repeat([]byte{0x88}, 96))
		assert.Equal(t, want, quantize(t, gguf.TypeIQ4_XS, x))
	})
}

// TestIQ4MatchesGgml quantizes testdata/kquants/in.f32 (24 super-blocks of
// assorted shapes, 192 blocks of 32) to IQ4_NL and IQ4_XS and compares with
// the bytes ggml wrote for it (quantize_iq4_nl and quantize_row_iq4_xs_ref
// with no importance matrix, see testdata/kquants/README.md), block by block.
func TestIQ4MatchesGgml(t *testing.T) {
	raw, err := os.ReadFile("testdata/kquants/in.f32")
	require.NoError(t, err)
	x := make([]float32, len(raw)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	for _, typ := range iq4Types {
		t.Run(typ.String(), func(t *testing.T) {
			want, err := os.ReadFile("testdata/kquants/" + typ.String() + ".bin")
			require.NoError(t, err)
			got := quantize(t, typ, x)
			require.Len(t, got, len(want))
			bb := typ.BlockBytes()
			for b := 0; b < len(want)/bb; b++ {
				g, w := got[b*bb:(b+1)*bb], want[b*bb:(b+1)*bb]
				require.True(t, bytes.Equal(g, w), "block %d:\ngot  %x\nwant %x", b, g, w)
			}
		})
	}
}

// iq4GroupScales returns, for each group of 32 values of a row of typ, the
// stored scale s (d for IQ4_NL, d·(ls − 32) for IQ4_XS) and |l|, the integer
// multiplying the fp16 d in it (1 for IQ4_NL).
func iq4GroupScales(typ gguf.Type, q []byte, n int) (s []float32, l []float64) {
	for g := 0; g < n/32; g++ {
		if typ == gguf.TypeIQ4_NL {
			s = append(s, getF16(q[g*blockIQ4_NL:]))
			l = append(l, 1)
			continue
		}
		b := q[g/8*blockIQ4_XS:]
		ls := iq4XSScale(b, g%8)
		s = append(s, getF16(b)*float32(ls))
		l = append(l, math.Abs(float64(ls)))
	}
	return s, l
}

// TestIQ4RoundTrip: every value comes back as the level nearest it under its
// group's stored scale s, up to the rounding of the scale. The quantizer
// picks the level nearest x/d with d before its fp16 rounding, so with
// δ = |d·l − s| ≤ |l|·(2^-11·|d| + 2^-25) + 2^-24·|s| and e* = min_k
// |x − s·level_k|, the error is at most e* + 2·127·δ (levels are at most 127
// in magnitude); 1e-6·|x| covers the float32 rounding of x·(1/d). The RMS
// error relative to the values' RMS (normal data, 1% of the values 8 times
// larger) must also stay under the measured figure plus about 15%, which
// checks the scale search: measured at most 0.109 (IQ4_NL) and 0.108
// (IQ4_XS); Q4_K's is 0.092 on the same data (TestKRoundTrip).
func TestIQ4RoundTrip(t *testing.T) {
	rms := map[gguf.Type]float64{gguf.TypeIQ4_NL: 0.125, gguf.TypeIQ4_XS: 0.125}
	for _, typ := range iq4Types {
		t.Run(typ.String(), func(t *testing.T) {
			rng := newRand(uint64(typ))
			for _, scale := range []float64{1e-3, 1, 300} {
				for _, off := range []float64{0, 0.7, -3} {
					x := make([]float32, 256*32)
					for i := range x {
						x[i] = float32((rng.NormFloat64() + off) * scale)
						if rng.IntN(100) == 0 {
							x[i] *= 8
						}
					}
					q := quantize(t, typ, x)
					y := dequantize(t, typ, q, len(x))
					s, l := iq4GroupScales(typ, q, len(x))
					var num, den float64
					for i := range x {
						require.False(t, math.IsNaN(float64(y[i])), "value %d not written", i)
						g := i / 32
						best := math.Inf(1)
						for _, lv := range iq4Levels {
							best = math.Min(best, math.Abs(float64(x[i])-float64(s[g])*float64(lv)))
						}
						sa := math.Abs(float64(s[g]))
						delta := l[g]*(0x1p-11*sa/math.Max(l[g], 1)+0x1p-25) + 0x1p-24*sa
						bound := best + 254*delta + 1e-6*math.Abs(float64(x[i]))
						e := math.Abs(float64(x[i] - y[i]))
						require.LessOrEqual(t, e, bound, "scale %g offset %g value %d (%g): scale %g", scale, off, i, x[i], s[g])
						num += e * e
						den += float64(x[i]) * float64(x[i])
					}
					rel := math.Sqrt(num / den)
					if off == 0 {
						require.LessOrEqual(t, rel, rms[typ], "scale %g", scale)
					}
					t.Logf("scale %g offset %g: relative RMS %.4f", scale, off, rel)
				}
			}
		})
	}
}

// TestIQ4Dot: each dot against the float64 dot of the dequantized operands
// (the same quantized data, so only the kernel's float32 arithmetic
// differs). IQ4_NL: exact block sums, then two roundings per block (d_w·d_a
// and the fused multiply-add), as Q4_0 (blockBound). IQ4_XS: exact block
// sums, then float32 roundings per block and nb additions, as Q6_K (kBound,
// no min term). Over 16 rows within 1e-6 relative (measured at most 1.5e-7).
func TestIQ4Dot(t *testing.T) {
	for _, n := range []int{256, 1024, 4096} {
		checkDot(t, gguf.TypeIQ4_NL, n, blockBound, 1e-6)
		checkDot(t, gguf.TypeIQ4_XS, n, kBound(gguf.TypeIQ4_XS, [2]int{}), 1e-6)
	}
}

func BenchmarkDotIQ4_NL(b *testing.B) { benchDot(b, gguf.TypeIQ4_NL, 4096) }
func BenchmarkDotIQ4_XS(b *testing.B) { benchDot(b, gguf.TypeIQ4_XS, 4096) }

func BenchmarkQuantizeIQ4_NL(b *testing.B) { benchQuantize(b, gguf.TypeIQ4_NL) }
func BenchmarkQuantizeIQ4_XS(b *testing.B) { benchQuantize(b, gguf.TypeIQ4_XS) }

// benchQuantize measures typ's quantizer on 4096 normal values.
func benchQuantize(b *testing.B, typ gguf.Type) {
	rng := newRand(1)
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	dst := make([]byte, typ.RowBytes(len(x)))
	f := mustFormat(b, typ)
	b.SetBytes(4 * int64(len(x)))
	for b.Loop() {
		f.Quantize(dst, x)
	}
}
