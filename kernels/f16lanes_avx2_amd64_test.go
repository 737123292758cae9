package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// TestDotTileLanesAVX2 forces the AVX2 row dots on F32 and BF16 weights (no
// batch tiler, as on a CPU without AVX-512) and checks DotTile and Dot
// against the twins bit for bit at awkward shapes: lengths not a multiple
// of 64, weight rows not a multiple of 4, batches of 1, 5 and 17.
func TestDotTileLanesAVX2(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2")
	}
	for _, c := range []struct {
		typ       gguf.Type
		dot, twin func(w, a []byte, n int) float32
	}{
		{gguf.TypeF32, dotF32AVX2Row, dotF32},
		{gguf.TypeBF16, dotBF16AVX2Row, dotBF16},
	} {
		t.Run(c.typ.String(), func(t *testing.T) {
			f := mustFormat(t, c.typ)
			bt, hasBT := batchTilers[f]
			dot := f.Dot
			delete(batchTilers, f)
			f.Dot = c.dot
			defer func() {
				if hasBT {
					batchTilers[f] = bt
				}
				f.Dot = dot
			}()
			rng := rand.New(rand.NewPCG(43, uint64(c.typ)))
			for iter := 0; iter < 40; iter++ {
				n := []int{1, 63, 64, 65, 200, 768}[iter%6]
				nw := []int{1, 3, 4, 5, 7}[iter%5]
				na := []int{1, 17, 5, 2}[iter%4]
				wRow, aRow := c.typ.RowBytes(n), f.DotType.RowBytes(n)
				w, a := make([]byte, nw*wRow), make([]byte, na*aRow)
				f.Quantize(w, randFloats(rng, nw*n, -2, 2))
				f.Quantize(a, randFloats(rng, na*n, -2, 2)) // DotType is Type
				dstStride := nw + iter%3
				dst := make([]float32, na*dstStride)
				poisonFloats(dst)
				f.DotTile(dst, dstStride, w, wRow, nw, a, aRow, na, n)
				for i := 0; i < na; i++ {
					for j := 0; j < dstStride; j++ {
						got := dst[i*dstStride+j]
						if j >= nw {
							if !math.IsNaN(float64(got)) {
								t.Fatalf("wrote outside the tile at (%d, %d)", i, j)
							}
							continue
						}
						want := c.twin(w[j*wRow:(j+1)*wRow], a[i*aRow:(i+1)*aRow], n)
						if math.Float32bits(got) != math.Float32bits(want) {
							t.Fatalf("n=%d %dx%d: (%d, %d) = %g, want %g", n, nw, na, i, j, got, want)
						}
					}
				}
			}
		})
	}
}
