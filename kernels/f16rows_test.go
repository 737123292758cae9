package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestF16RowsToF32 checks the strided conversion against the twin on random
// bits (NaNs, infinities and subnormals included) at several shapes.
func TestF16RowsToF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, shape := range [][3]int{{1, 16, 32}, {5, 64, 160}, {7, 48, 200}, {3, 24, 48}, {40, 128, 1024}} {
		rows, cols, stride := shape[0], shape[1], shape[2]
		src := make([]byte, (rows-1)*stride+2*cols)
		for i := range src {
			src[i] = byte(rng.Uint32())
		}
		got, want := make([]float32, rows*cols), make([]float32, rows*cols)
		poisonFloats(got)
		F16RowsToF32(got, src, rows, cols, stride)
		f16RowsToF32Go(want, src, rows, cols, stride)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%v: value %d: %#x, want %#x", shape, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
			}
		}
	}
}
