package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// f16TileCase is one random DotTile call for F16 weights: awkward sizes,
// strides with slack, outputs poisoned with NaN.
type f16TileCase struct {
	n, nw, na                 int
	wStride, aStride, dStride int
	w, a                      []byte
	dst                       []float32
}

// f16TileSizes are row lengths around the chunk and register edges.
var f16TileSizes = []int{1, 2, 15, 16, 17, 31, 33, 48, 63, 64, 65, 80, 127, 128, 129, 200, 255, 257, 1000}

func newF16TileCase(rng *rand.Rand, n, nw, na int, rawBits bool) *f16TileCase {
	c := &f16TileCase{n: n, nw: nw, na: na}
	c.wStride, c.aStride, c.dStride = 2*n+2*rng.IntN(3)*7, 2*n+2*rng.IntN(3)*5, nw+rng.IntN(3)
	c.w, c.a = make([]byte, nw*c.wStride), make([]byte, na*c.aStride)
	fill := func(b []byte, rows, stride int, lo, hi float32) {
		for r := 0; r < rows; r++ {
			row := b[r*stride : r*stride+2*n]
			if rawBits { // any F16 bits: infinities, NaNs, subnormals
				for i := range row {
					row[i] = byte(rng.Uint32())
				}
				continue
			}
			quantizeF16(row, randFloats(rng, n, lo, hi))
		}
		for i := range b { // the slack between rows must not be read
			if i%stride >= 2*n {
				b[i] = 0x7c // F16 inf/NaN bits
			}
		}
	}
	fill(c.w, nw, c.wStride, -1, 1)
	fill(c.a, na, c.aStride, -2, 2)
	c.dst = make([]float32, na*c.dStride)
	poisonFloats(c.dst)
	return c
}

// check compares every output with dot, bit for bit (any NaN for a NaN
// when anyNaN), and the poisoned slack between output rows with NaN.
func (c *f16TileCase) check(t *testing.T, dot func(w, a []byte, n int) float32, anyNaN bool) {
	t.Helper()
	for i := 0; i < c.na; i++ {
		for j := 0; j < c.dStride; j++ {
			got := c.dst[i*c.dStride+j]
			if j >= c.nw {
				if !math.IsNaN(float64(got)) {
					t.Fatalf("n=%d %dx%d: wrote outside the tile at (%d, %d)", c.n, c.nw, c.na, i, j)
				}
				continue
			}
			want := dot(c.w[j*c.wStride:j*c.wStride+2*c.n], c.a[i*c.aStride:i*c.aStride+2*c.n], c.n)
			bothNaN := math.IsNaN(float64(got)) && math.IsNaN(float64(want))
			if math.Float32bits(got) != math.Float32bits(want) && !(anyNaN && bothNaN) {
				t.Fatalf("n=%d %dx%d: (%d, %d) = %g (%x), want %g (%x)", c.n, c.nw, c.na, i, j,
					got, math.Float32bits(got), want, math.Float32bits(want))
			}
		}
	}
}

// runTiler runs bt as DotTile does (the rows it leaves to Dot by dotF16).
func (c *f16TileCase) runTiler(bt batchTiler) {
	j := bt(c.dst, c.dStride, c.w, c.wStride, c.nw, c.a, c.aStride, c.na, c.n)
	for ; j < c.nw; j++ {
		for i := 0; i < c.na; i++ {
			c.dst[i*c.dStride+j] = dotF16(c.w[j*c.wStride:], c.a[i*c.aStride:], c.n)
		}
	}
}

// The Go twins (the assembly's definition) give dotF16's bits.
func TestF16TileTwinMatchesDot(t *testing.T) {
	twin := f16Tiler{packF16Tile, tileF16}.dotTile
	rng := rand.New(rand.NewPCG(11, 12))
	for iter := 0; iter < 60; iter++ {
		n := f16TileSizes[iter%len(f16TileSizes)]
		c := newF16TileCase(rng, n, 1+rng.IntN(9), 1+rng.IntN(9), iter%4 == 3)
		c.runTiler(twin)
		c.check(t, dotF16, iter%4 == 3)
	}
}
