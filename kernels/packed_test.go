package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/stretchr/testify/require"
)

// randBlocks returns nb blocks of size bytes: random bytes, with a finite
// random fp16 scale in each block's first two bytes. extreme biases the
// quants toward -128, 127 and 0.
func randBlocks(rng *rand.Rand, nb, size int, extreme bool) []byte {
	b := make([]byte, nb*size)
	for i := range b {
		b[i] = byte(rng.Uint32())
		if extreme {
			b[i] = []byte{0x80, 0x7f, 0, 0xff, 0x88, 0x0f, 0xf0}[rng.IntN(7)]
		}
	}
	for i := 0; i < nb; i++ {
		// exponent 1..30 (finite, normal) or 0 (subnormal), any sign.
		h := uint16(rng.Uint32()) &^ (0x1f << 10)
		h |= uint16(rng.IntN(31)) << 10
		b[i*size], b[i*size+1] = byte(h), byte(h>>8)
	}
	return b
}

func sameFloat(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (math.IsNaN(float64(a)) && math.IsNaN(float64(b)))
}

var packedTypes = []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ4_0}

func TestPackGroupRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, typ := range packedTypes {
		for _, nb := range []int{1, 3, 64} {
			cols := nb * 32
			rowBytes := int(typ.RowBytes(cols))
			std := randBlocks(rng, PackRows*nb, rowBytes/nb, false)
			data := append([]byte(nil), std...)
			PackGroup(typ, data, make([]byte, len(data)), cols)
			require.NotEqual(t, std, data, "%v: packing changed nothing", typ)
			row := make([]byte, rowBytes)
			for r := 0; r < PackRows; r++ {
				UnpackRow(typ, row, data, r, cols)
				require.Equal(t, std[r*rowBytes:(r+1)*rowBytes], row, "%v nb %d row %d", typ, nb, r)
			}
		}
	}
}

// TestDotBlockOrder checks the Q8_0 dot's arithmetic on a hand-worked case:
// block 0: d_w 0.5, d_a 0.25, 32 products 1*2 (isum 64) -> 8; block 1:
// d_w 1, d_a 1, 32 products -1*3 (isum -96) -> 8 + -96 = -88.
func TestDotBlockOrder(t *testing.T) {
	w, a := make([]byte, 2*blockQ8_0), make([]byte, 2*blockQ8_0)
	putF16(w, 0.5)
	putF16(a, 0.25)
	putF16(w[blockQ8_0:], 1)
	putF16(a[blockQ8_0:], 1)
	for j := 0; j < 32; j++ {
		w[2+j], a[2+j] = 1, 2
		w[blockQ8_0+2+j], a[blockQ8_0+2+j] = 0xff, 3
	}
	require.Equal(t, float32(-88), dotQ8_0(w, a, 64))
	// One rounding per block: 1 + 2^-24*isum(1) is 1 in float32 (a tie to
	// even), then + 2^-24 again is still 1; a single sum would give 1+2^-23.
	putF16(w, 1)
	putF16(a, 1)
	for j := 0; j < 32; j++ {
		w[2+j], a[2+j] = 0, 0
	}
	w[2], a[2] = 1, 1
	require.Equal(t, float32(1), dotQ8_0(w, a, 64)-dotQ8_0(w, a, 64)+1)
}

// packedCase is a random packed group with n activation rows.
func packedCase(rng *rand.Rand, typ gguf.Type, nb, n int, extreme bool) (std, group []byte, p *PackedActivations) {
	cols := nb * 32
	rowBytes := int(typ.RowBytes(cols))
	std = randBlocks(rng, PackRows*nb, rowBytes/nb, extreme)
	group = append([]byte(nil), std...)
	PackGroup(typ, group, make([]byte, len(group)), cols)
	p = &PackedActivations{}
	p.Reset(typ, n, cols)
	for i := 0; i < n; i++ {
		scale := float32(math.Pow(10, float64(rng.IntN(7)-3)))
		p.Quantize(i, randFloats(rng, cols, -scale, scale))
	}
	for tile := 0; tile*PackRows < n; tile++ {
		p.Transpose(tile)
	}
	return std, group, p
}

// TestPackedDotsMatchDot checks every packed kernel against the format's Dot
// of the standard rows, bit for bit, outputs poisoned with NaN first.
func TestPackedDotsMatchDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, typ := range packedTypes {
		f := formats[typ]
		for _, nb := range []int{1, 2, 3, 8, 64} {
			for _, n := range []int{1, 2, 3, 4, 5, 15, 16, 17, 33} {
				std, group, p := packedCase(rng, typ, nb, n, (nb+n)%3 == 0)
				rowBytes := len(std) / PackRows
				want := make([]float32, n*PackRows)
				for i := 0; i < n; i++ {
					for r := 0; r < PackRows; r++ {
						want[i*PackRows+r] = f.Dot(std[r*rowBytes:(r+1)*rowBytes], p.Q[i*p.RowBytes:(i+1)*p.RowBytes], nb*32)
					}
				}
				check := func(name string, got []float32, stride int) {
					t.Helper()
					for i := 0; i < n; i++ {
						for r := 0; r < PackRows; r++ {
							if g, w := got[i*stride+r], want[i*PackRows+r]; !sameFloat(g, w) {
								t.Fatalf("%v %s nb %d rows %d: out[%d][%d] = %g (%#x), want %g (%#x)",
									typ, name, nb, n, i, r, g, math.Float32bits(g), w, math.Float32bits(w))
							}
						}
					}
				}
				poisoned := func(size int) []float32 {
					out := make([]float32, size)
					for i := range out {
						out[i] = float32(math.NaN())
					}
					return out
				}
				// Every row kernel, one row at a time.
				rowKernels := map[string]func(gguf.Type, []byte, *PackedActivations, int, *[PackRows]float32){"go": packedRowGo, "chosen": packedRow}
				addPlatformRowKernels(rowKernels)
				for name, k := range rowKernels {
					out := poisoned(n * PackRows)
					for i := 0; i < n; i++ {
						k(typ, group, p, i, (*[PackRows]float32)(out[i*PackRows:]))
					}
					check("row/"+name, out, PackRows)
				}
				// Four rows at a time.
				if packedRows4 != nil && n >= 4 {
					out := poisoned(n * 24)
					for i := 0; i+4 <= n; i += 4 {
						packedRows4(typ, group, p, i, out[i*24:], 24)
					}
					for i := n / 4 * 4; i < n; i++ {
						packedRowGo(typ, group, p, i, (*[PackRows]float32)(out[i*24:]))
					}
					check("rows4", out, 24)
				}
				// The dispatcher, with a wider output stride.
				var s PackedScratch
				out := poisoned(n * 40)
				PackedDots(group, p, 0, n, out, 40, &s)
				check("PackedDots", out, 40)
				// The tile kernel on every tile, full or padded, with the
				// expanded group from each expander.
				if packedTile != nil {
					for name, ex := range map[string]func(gguf.Type, []byte, int, []byte){"go": expandGo, "chosen": expand} {
						expanded := make([]byte, nb*packedQ8_0Block)
						ex(typ, group, nb, expanded)
						tiles := (n + PackRows - 1) / PackRows
						out := poisoned(tiles * PackRows * PackRows)
						for tile := 0; tile < tiles; tile++ {
							packedTile(expanded, p, tile, &s, out[tile*PackRows*PackRows:], PackRows)
						}
						check("tile/expand-"+name, out, PackRows)
					}
				}
				// Rows from the second tile on.
				if n > PackRows {
					out := poisoned(n * PackRows)
					PackedDots(group, p, PackRows, n-PackRows, out, PackRows, &s)
					for i := 0; i < PackRows*PackRows; i++ {
						out[i] = want[i]
					}
					check("PackedDots from row 16", out, PackRows)
				}
			}
		}
	}
}

func benchPacked(b *testing.B, typ gguf.Type, rows int, k func(group []byte, p *PackedActivations, out []float32, s *PackedScratch)) {
	const cols, groups = 2048, 8
	rng := rand.New(rand.NewPCG(1, 1))
	var gs [][]byte
	var p *PackedActivations
	for g := 0; g < groups; g++ {
		_, group, pp := packedCase(rng, typ, cols/32, rows, false)
		gs, p = append(gs, group), pp
	}
	out := make([]float32, rows*PackRows)
	var s PackedScratch
	b.SetBytes(int64(groups * len(gs[0])))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, g := range gs {
			k(g, p, out, &s)
		}
	}
	b.ReportMetric(float64(b.N)*groups*PackRows*cols*float64(rows)/b.Elapsed().Seconds()/1e9, "GMAC/s")
}

func dispatch(group []byte, p *PackedActivations, out []float32, s *PackedScratch) {
	PackedDots(group, p, 0, p.Rows, out, PackRows, s)
}

func goRows(group []byte, p *PackedActivations, out []float32, _ *PackedScratch) {
	for i := 0; i < p.Rows; i++ {
		packedRowGo(p.Type, group, p, i, (*[PackRows]float32)(out[i*PackRows:]))
	}
}

func BenchmarkPackedQ8_0Row(b *testing.B)      { benchPacked(b, gguf.TypeQ8_0, 1, dispatch) }
func BenchmarkPackedQ4_0Row(b *testing.B)      { benchPacked(b, gguf.TypeQ4_0, 1, dispatch) }
func BenchmarkPackedQ8_0Tile16(b *testing.B)   { benchPacked(b, gguf.TypeQ8_0, 16, dispatch) }
func BenchmarkPackedQ8_0Rows8(b *testing.B)    { benchPacked(b, gguf.TypeQ8_0, 8, dispatch) }
func BenchmarkPackedQ4_0Tile16(b *testing.B)   { benchPacked(b, gguf.TypeQ4_0, 16, dispatch) }
func BenchmarkPackedQ4_0Tile64(b *testing.B)   { benchPacked(b, gguf.TypeQ4_0, 64, dispatch) }
func BenchmarkPackedQ8_0RowGo(b *testing.B)    { benchPacked(b, gguf.TypeQ8_0, 1, goRows) }
func BenchmarkPackedQ4_0Tile16Go(b *testing.B) { benchPacked(b, gguf.TypeQ4_0, 16, goRows) }

// TestQuantizePackedMatchesGo checks the activation quantizer against its
// Go twin on rows of every scale, with zero blocks and exact ties.
func TestQuantizePackedMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for iter := 0; iter < 500; iter++ {
		nb := 1 + rng.IntN(70)
		scale := float32(math.Pow(10, float64(rng.IntN(13)-6)))
		x := randFloats(rng, nb*32, -scale, scale)
		switch iter % 5 {
		case 1:
			clear(x[:32]) // a zero block
		case 2:
			for i := range x { // halves: ties in x*(127/amax)
				x[i] = float32(rng.IntN(255)-127) / 2
			}
		}
		for _, shift := range []int{3, 7} {
			q1, q2 := randBlocks(rng, nb, blockQ8_0, false), make([]byte, nb*blockQ8_0)
			d1, d2 := make([]float32, nb), make([]float32, nb)
			c1, c2 := make([]int32, nb), make([]int32, nb)
			quantizePacked(x, q1, d1, c1, shift)
			quantizePackedGo(x, q2, d2, c2, shift)
			require.Equal(t, q2, q1, "iter %d", iter)
			require.Equal(t, d2, d1, "iter %d", iter)
			require.Equal(t, c2, c1, "iter %d", iter)
		}
	}
}
