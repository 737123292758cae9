package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// TestDotTilePackedMatchesDot packs the activations once (PackActs) and
// computes tiles of several stretches of weight rows from them
// (DotTilePacked), as a MatMul does, for batches of 1 to 37 rows; every
// output must be the twin's (Format.Dot) bit for bit, and the poison
// written first must be gone.
func TestDotTilePackedMatchesDot(t *testing.T) {
	for _, typ := range []gguf.Type{gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K, gguf.TypeQ8_0} {
		t.Run(typ.String(), func(t *testing.T) {
			f, err := FormatOf(typ)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(11, uint64(typ)))
			var p PackedActs
			for iter, na := range []int{1, 3, 4, 7, 8, 9, 12, 16, 17, 37} {
				n := 256 * (1 + iter%4)
				nw := 4 + rng.IntN(30)
				wRow, aRow := f.Type.RowBytes(n), f.DotType.RowBytes(n)
				wStride, aStride := wRow+rng.IntN(2)*16, aRow+rng.IntN(2)*8
				w := make([]byte, nw*wStride)
				a := make([]byte, na*aStride)
				for i := range w {
					w[i] = byte(rng.Uint32())
				}
				for i := range a {
					a[i] = byte(rng.Uint32())
				}
				wBlock, aBlock := f.Type.BlockBytes(), f.DotType.BlockBytes()
				for r := 0; r < nw; r++ {
					for b := 0; b < n/f.Type.BlockSize(); b++ {
						blk := w[r*wStride+b*wBlock:]
						switch typ {
						case gguf.TypeQ6_K:
							putF16(blk[wBlock-2:], float32(rng.NormFloat64()*0.01))
						case gguf.TypeQ8_0:
							putF16(blk, float32(rng.NormFloat64()*0.01))
						default:
							putF16(blk, float32(rng.NormFloat64()*0.01))
							putF16(blk[2:], float32(rng.NormFloat64()*0.01))
						}
					}
				}
				for r := 0; r < na; r++ {
					for b := 0; b < n/f.DotType.BlockSize(); b++ {
						blk := a[r*aStride+b*aBlock:]
						if f.DotType == gguf.TypeQ8_K {
							putF32(blk, float32(rng.NormFloat64()))
						} else {
							putF16(blk, float32(rng.NormFloat64()))
						}
					}
				}
				dStride := nw + 5
				dst := make([]float32, na*dStride)
				for i := range dst {
					dst[i] = float32(math.NaN())
				}
				f.PackActs(&p, a, aStride, na, n)
				// Three stretches of weight rows, as a MatMul's threads take.
				for j0 := 0; j0 < nw; {
					j1 := min(nw, j0+1+rng.IntN(12))
					f.DotTilePacked(dst[j0:], dStride, w[j0*wStride:], wStride, j1-j0, &p)
					j0 = j1
				}
				for i := 0; i < na; i++ {
					for j := 0; j < nw; j++ {
						want := f.Dot(w[j*wStride:j*wStride+wRow], a[i*aStride:i*aStride+aRow], n)
						if got := dst[i*dStride+j]; math.Float32bits(got) != math.Float32bits(want) {
							t.Fatalf("na %d n %d: out[%d][%d] = %v, twin %v", na, n, i, j, got, want)
						}
					}
				}
			}
		})
	}
}
