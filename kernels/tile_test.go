package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// twinDots are the Go definitions of the dots that have assembly versions.
var twinDots = map[gguf.Type]func(w, a []byte, n int) float32{
	gguf.TypeQ4_0: dotQ4_0,
	gguf.TypeQ8_0: dotQ8_0,
}

func TestDotTileMatchesDot(t *testing.T) {
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeQ4_1, gguf.TypeF16} {
		t.Run(typ.String(), func(t *testing.T) {
			f := mustFormat(t, typ)
			twin := twinDots[typ]
			if twin == nil {
				twin = f.Dot
			}
			rng := rand.New(rand.NewPCG(5, uint64(typ)))
			for iter := 0; iter < 60; iter++ {
				n := 32 * (1 + rng.IntN(20))
				nw, na := 1+rng.IntN(10), 1+rng.IntN(10)
				wRow, aRow := typ.RowBytes(n), f.DotType.RowBytes(n)
				wStride, aStride, dStride := wRow+rng.IntN(3)*7, aRow+rng.IntN(3)*5, nw+rng.IntN(3)
				w := make([]byte, nw*wStride)
				for j := 0; j < nw; j++ {
					f.Quantize(w[j*wStride:j*wStride+wRow], randFloats(rng, n, -1, 1))
				}
				a := make([]byte, na*aStride)
				for i := 0; i < na; i++ {
					QuantizeActivations(f.DotType, a[i*aStride:i*aStride+aRow], randFloats(rng, n, -2, 2))
				}
				dst := make([]float32, na*dStride)
				poisonFloats(dst)
				f.DotTile(dst, dStride, w, wStride, nw, a, aStride, na, n)
				for i := 0; i < na; i++ {
					for j := 0; j < dStride; j++ {
						got := dst[i*dStride+j]
						if j >= nw {
							if !math.IsNaN(float64(got)) {
								t.Fatalf("wrote outside the tile at (%d, %d)", i, j)
							}
							continue
						}
						want := twin(w[j*wStride:j*wStride+wRow], a[i*aStride:i*aStride+aRow], n)
						if math.Float32bits(got) != math.Float32bits(want) {
							t.Fatalf("n=%d, %dx%d tile: (%d, %d) = %g, want %g", n, nw, na, i, j, got, want)
						}
					}
				}
			}
		})
	}
}

// TestDotTileRawBlocks runs the tiles on random bytes (any quant, -128 too).
func TestDotTileRawBlocks(t *testing.T) {
	for typ, twin := range twinDots {
		f := mustFormat(t, typ)
		rng := rand.New(rand.NewPCG(9, uint64(typ)))
		for iter := 0; iter < 300; iter++ {
			nb := rng.IntN(12)
			n := 32 * nb
			nw, na := 4*(1+rng.IntN(2)), 1+rng.IntN(9)
			wRow, aRow := typ.RowBytes(n), f.DotType.RowBytes(n)
			w := randBlocks(rng, nw*nb, typ.BlockBytes(), iter%2 == 0)
			a := randBlocks(rng, na*nb, blockQ8_0, iter%3 == 0)
			dst := make([]float32, na*nw)
			f.DotTile(dst, nw, w, wRow, nw, a, aRow, na, n)
			for i := 0; i < na; i++ {
				for j := 0; j < nw; j++ {
					want := twin(w[j*wRow:(j+1)*wRow], a[i*aRow:(i+1)*aRow], n)
					if got := dst[i*nw+j]; !sameFloat(got, want) {
						t.Fatalf("%v nb=%d (%d, %d): %g, want %g", typ, nb, i, j, got, want)
					}
				}
			}
		}
	}
}

func benchTile(b *testing.B, typ gguf.Type, na int) {
	f := mustFormat(b, typ)
	const n, nw = 2048, 64
	rng := rand.New(rand.NewPCG(1, 1))
	wRow, aRow := typ.RowBytes(n), f.DotType.RowBytes(n)
	w := randBlocks(rng, nw*n/32, typ.BlockBytes(), false)
	a := randBlocks(rng, na*n/32, blockQ8_0, false)
	dst := make([]float32, nw*na)
	b.SetBytes(int64(len(w)))
	for b.Loop() {
		f.DotTile(dst, nw, w, wRow, nw, a, aRow, na, n)
	}
}

func BenchmarkDotTileQ4_0x1(b *testing.B)  { benchTile(b, gguf.TypeQ4_0, 1) }
func BenchmarkDotTileQ4_0x4(b *testing.B)  { benchTile(b, gguf.TypeQ4_0, 4) }
func BenchmarkDotTileQ4_0x16(b *testing.B) { benchTile(b, gguf.TypeQ4_0, 16) }
func BenchmarkDotTileQ8_0x1(b *testing.B)  { benchTile(b, gguf.TypeQ8_0, 1) }
func BenchmarkDotTileQ8_0x4(b *testing.B)  { benchTile(b, gguf.TypeQ8_0, 4) }
