package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// newBF16TileCase is newF16TileCase with BF16 rows: random values in
// [-1, 1) (weights) and [-2, 2) (activations), or any 16-bit patterns
// (infinities, NaNs, subnormals) when rawBits.
func newBF16TileCase(rng *rand.Rand, n, nw, na int, rawBits bool) *f16TileCase {
	c := newF16TileCase(rng, n, nw, na, true)
	if !rawBits {
		for r := 0; r < nw; r++ {
			quantizeBF16(c.w[r*c.wStride:r*c.wStride+2*n], randFloats(rng, n, -1, 1))
		}
		for r := 0; r < na; r++ {
			quantizeBF16(c.a[r*c.aStride:r*c.aStride+2*n], randFloats(rng, n, -2, 2))
		}
	}
	return c
}

// runBF16Tiler runs bt as DotTile does (the rows it leaves to dotBF16).
func (c *f16TileCase) runBF16Tiler(bt batchTiler) {
	j := bt(c.dst, c.dStride, c.w, c.wStride, c.nw, c.a, c.aStride, c.na, c.n)
	for ; j < c.nw; j++ {
		for i := 0; i < c.na; i++ {
			c.dst[i*c.dStride+j] = dotBF16(c.w[j*c.wStride:], c.a[i*c.aStride:], c.n)
		}
	}
}

// dotBF16 keeps dotF16's order: on values that both formats hold exactly
// (8 significant bits, small exponents) the two dots agree bit for bit.
func TestDotBF16HasDotF16Order(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{1, 17, 63, 64, 65, 200, 1000} {
		x, y := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i] = float32(rng.IntN(255)-127) / float32(int(1)<<rng.IntN(8))
			y[i] = float32(rng.IntN(255)-127) / float32(int(1)<<rng.IntN(8))
		}
		wb, ab, wh, ah := make([]byte, 2*n), make([]byte, 2*n), make([]byte, 2*n), make([]byte, 2*n)
		quantizeBF16(wb, x)
		quantizeBF16(ab, y)
		quantizeF16(wh, x)
		quantizeF16(ah, y)
		if got, want := dotBF16(wb, ab, n), dotF16(wh, ah, n); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("n=%d: dotBF16 %g, dotF16 %g", n, got, want)
		}
	}
}

// The Go tile twins (the assembly's definition) give dotBF16's bits.
func TestBF16TileTwinMatchesDot(t *testing.T) {
	twin := f16Tiler{packBF16Tile, tileBF16}.dotTile
	rng := rand.New(rand.NewPCG(23, 24))
	for iter := 0; iter < 60; iter++ {
		n := f16TileSizes[iter%len(f16TileSizes)]
		na := []int{1, 2, 17, 1 + rng.IntN(9)}[iter%4]
		c := newBF16TileCase(rng, n, 1+rng.IntN(9), na, iter%5 == 4)
		c.runBF16Tiler(twin)
		c.check(t, dotBF16, iter%5 == 4)
	}
}
