package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// TestKQ6BatchTilerMatchesTwin runs Q6_K's batch tiler (activation packing
// included) on quantized, random and extreme blocks, batches of 1 to 33
// activation rows and weight rows left over, and compares every output's
// bits with dotQ6_K; the outputs it leaves to DotTile must stay poisoned.
func TestKQ6BatchTilerMatchesTwin(t *testing.T) {
	if !hasAVX512KQ236 {
		t.Skip("CPU lacks the instructions")
	}
	tiler := kq6DotTile(rowTiles(dotQ6_KAVX512).x1)
	for _, mode := range []kq236Mode{kq236Quantized, kq236Random, kq236Extreme} {
		t.Run(mode.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, uint64(mode)))
			nas := []int{1, 3, 4, 5, 8, 11, 17, 33}
			for iter := 0; iter < 48; iter++ {
				nb := 1 + iter%9
				n := nb * qkK
				nw, na := 1+rng.IntN(12), nas[iter%len(nas)]
				wRow, aRow := gguf.TypeQ6_K.RowBytes(n), gguf.TypeQ8_K.RowBytes(n)
				wStride, aStride := wRow+rng.IntN(3)*3, aRow+rng.IntN(3)*5
				w := kq236Weights(rng, gguf.TypeQ6_K, mode, nw, nb, wStride)
				a := kq236Acts(rng, mode, na, nb, aStride)
				dStride := nw + rng.IntN(3)
				dst := make([]float32, na*dStride)
				poisonFloats(dst)
				done := tiler(dst, dStride, w, wStride, nw, a, aStride, na, n)
				if want := nw &^ 3; na&^3 < kq6PackMin && done != 0 || na&^3 >= kq6PackMin && done != want {
					t.Fatalf("%dx%d: did %d weight rows", nw, na, done)
				}
				for i := 0; i < na; i++ {
					for j := 0; j < dStride; j++ {
						got := dst[i*dStride+j]
						if j >= done {
							if !math.IsNaN(float64(got)) {
								t.Fatalf("%dx%d: wrote (%d, %d)", nw, na, i, j)
							}
							continue
						}
						want := dotQ6_K(w[j*wStride:j*wStride+wRow], a[i*aStride:i*aStride+aRow], n)
						if !sameFloat(got, want) {
							t.Fatalf("nb=%d %dx%d (%d, %d) = %g, want %g", nb, nw, na, i, j, got, want)
						}
					}
				}
			}
		})
	}
}

// BenchmarkTileQ6_KStreams8 measures DotTile as batched decode of 8 streams
// calls it, a 2048x768 Q6_K matrix against 8 activation rows, with the batch
// tiler and without it (the 4x4 tiles), in GMAC per CPU second.
func BenchmarkTileQ6_KStreams8(b *testing.B) {
	for _, tiler := range []bool{true, false} {
		b.Run(fmt.Sprintf("tiler=%v", tiler), func(b *testing.B) {
			if !hasAVX512KQ236 {
				b.Skip("CPU lacks the instructions")
			}
			const n, nw, na = 768, 2048, 8
			f := mustFormat(b, gguf.TypeQ6_K)
			if bt := batchTilers[f]; !tiler && bt != nil {
				delete(batchTilers, f)
				defer func() { batchTilers[f] = bt }()
			}
			rng := rand.New(rand.NewPCG(1, 2))
			wRow, aRow := gguf.TypeQ6_K.RowBytes(n), f.DotType.RowBytes(n)
			w := kq236Weights(rng, gguf.TypeQ6_K, kq236Quantized, nw, n/qkK, wRow)
			a := kq236Acts(rng, kq236Quantized, na, n/qkK, aRow)
			dst := make([]float32, nw*na)
			cpu0 := threadCPU()
			for b.Loop() {
				f.DotTile(dst, nw, w, wRow, nw, a, aRow, na, n)
			}
			b.ReportMetric(float64(n*nw*na)*float64(b.N)/(threadCPU()-cpu0)/1e9, "GMAC/cpu-s")
		})
	}
}
