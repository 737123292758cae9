package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// mxfp4TestRows fills rows MXFP4 weight rows and Q8_0 activation rows of n
// values, stride apart: mode 0 quantized random floats; 1 random nibbles
// and quants under random exponents (0 and 1 included: subnormal scales)
// and fp16 scales; 2 and 3 the extremes, every level ±12 against every
// quant −128 or 127.
func mxfp4TestRows(rng *rand.Rand, rows, n, wStride, aStride, mode int) (w, a []byte) {
	w, a = make([]byte, rows*wStride), make([]byte, rows*aStride)
	nb := n / qkMXFP4
	for r := 0; r < rows; r++ {
		wr, ar := w[r*wStride:r*wStride+nb*blockMXFP4], a[r*aStride:r*aStride+nb*blockQ8_0]
		if mode == 0 {
			quantizeMXFP4(wr, randFloats(rng, n, -3, 3))
			QuantizeActivations(gguf.TypeQ8_0, ar, randFloats(rng, n, -2, 2))
			continue
		}
		for b := 0; b < nb; b++ {
			bw, ba := wr[b*blockMXFP4:(b+1)*blockMXFP4], ar[b*blockQ8_0:(b+1)*blockQ8_0]
			for i := range bw {
				bw[i], ba[i] = byte(rng.Uint32()), byte(rng.Uint32())
			}
			ba[32], ba[33] = byte(rng.Uint32()), byte(rng.Uint32())
			bw[0] = byte(rng.IntN(150))
			if mode >= 2 {
				for i := 1; i < blockMXFP4; i++ {
					bw[i] = []byte{0x77, 0xff}[(r+mode)%2]
				}
				for i := 2; i < blockQ8_0; i++ {
					ba[i] = []byte{0x80, 0x7f}[(r+b)%2]
				}
			}
			putF16(ba, float32(rng.NormFloat64()))
		}
	}
	return w, a
}

// Each MXFP4 kernel variant the machine can run, called directly, gives
// dotMXFP4's bits: the 4×4 and 4×1 tiles at random lengths and strides
// (and writes nothing outside its tile), and the single-row kernel.
func TestMXFP4KernelsMatchTwinBitForBit(t *testing.T) {
	for _, v := range mxfp4Variants {
		t.Run(v.name, func(t *testing.T) {
			if !v.ok {
				t.Skipf("no %s", v.name)
			}
			rng := rand.New(rand.NewPCG(39, 7))
			for iter := 0; iter < 300; iter++ {
				nb := 1 + rng.IntN(24)
				n := nb * qkMXFP4
				mode := iter % 4
				wRow, aRow := nb*blockMXFP4, nb*blockQ8_0
				wStride, aStride, oStride := wRow+rng.IntN(3)*7, aRow+rng.IntN(3)*5, 4+rng.IntN(3)
				w, a := mxfp4TestRows(rng, 4, n, wStride, aStride, mode)
				for _, rows := range []int{4, 1} {
					out := make([]float32, 4*oStride)
					poisonFloats(out)
					kern := v.tiles.x4
					if rows == 1 {
						kern = v.tiles.x1
					}
					kern(&w[0], wStride, &a[0], aStride, nb, &out[0], oStride)
					for i := 0; i < 4; i++ {
						for j := 0; j < oStride; j++ {
							got := out[i*oStride+j]
							if i >= rows || j >= 4 {
								if !math.IsNaN(float64(got)) {
									t.Fatalf("x%d wrote outside the tile at (%d, %d)", rows, i, j)
								}
								continue
							}
							want := dotMXFP4(w[j*wStride:j*wStride+wRow], a[i*aStride:i*aStride+aRow], n)
							if math.Float32bits(got) != math.Float32bits(want) {
								t.Fatalf("x%d mode %d nb=%d: (%d, %d) = %g, want %g", rows, mode, nb, i, j, got, want)
							}
						}
					}
				}
				dot := oneDot(gguf.TypeMXFP4, v.dot)
				got, want := dot(w[:wRow], a[:aRow], n), dotMXFP4(w[:wRow], a[:aRow], n)
				if math.Float32bits(got) != math.Float32bits(want) {
					t.Fatalf("dot mode %d nb=%d: %g, want %g", mode, nb, got, want)
				}
			}
		})
	}
}

// DotTile with MXFP4 weights (whatever kernels this machine registered)
// gives Dot's bits at shapes that leave rows and batch rows over.
func TestMXFP4DotTileMatchesTwin(t *testing.T) {
	f := formats[gguf.TypeMXFP4]
	rng := rand.New(rand.NewPCG(39, 13))
	for iter := 0; iter < 40; iter++ {
		nb := 1 + rng.IntN(12)
		n := nb * qkMXFP4
		nw := []int{1, 3, 4, 5, 7, 8, 11}[iter%7]
		na := []int{1, 17, 4, 5, 2}[iter%5]
		wRow, aRow := nb*blockMXFP4, nb*blockQ8_0
		w, _ := mxfp4TestRows(rng, nw, n, wRow, aRow, iter%2)
		_, a := mxfp4TestRows(rng, na, n, wRow, aRow, iter%2)
		out := make([]float32, na*nw)
		poisonFloats(out)
		f.DotTile(out, nw, w, wRow, nw, a, aRow, na, n)
		for i := 0; i < na; i++ {
			for j := 0; j < nw; j++ {
				want := dotMXFP4(w[j*wRow:(j+1)*wRow], a[i*aRow:(i+1)*aRow], n)
				if got := out[i*nw+j]; math.Float32bits(got) != math.Float32bits(want) {
					t.Fatalf("%d×%d, n=%d: (%d, %d) = %g, want %g", nw, na, n, i, j, got, want)
				}
			}
		}
	}
}

// BenchmarkMXFP4 is a gpt-oss-20b expert matrix's rows (2880 values each)
// against one activation row (decode: 4x1 tiles) and four (4x4 tiles), for
// each kernel variant and the Go twin, in weight bytes read per second.
func BenchmarkMXFP4(b *testing.B) {
	const n, rows = 2880, 256
	nb := n / qkMXFP4
	wRow, aRow := nb*blockMXFP4, nb*blockQ8_0
	rng := rand.New(rand.NewPCG(1, 2))
	w, _ := mxfp4TestRows(rng, rows, n, wRow, aRow, 0)
	_, a := mxfp4TestRows(rng, 4, n, wRow, aRow, 0)
	out := make([]float32, 4*rows)
	for _, v := range mxfp4Variants {
		if !v.ok {
			continue
		}
		for _, na := range []int{1, 4} {
			b.Run(fmt.Sprintf("%s/x%d", v.name, na), func(b *testing.B) {
				b.SetBytes(int64(rows * wRow))
				k := v.tiles.x1
				if na == 4 {
					k = v.tiles.x4
				}
				for range b.N {
					for j := 0; j < rows; j += 4 {
						k(&w[j*wRow], wRow, &a[0], aRow, nb, &out[j], rows)
					}
				}
			})
		}
	}
	b.Run("twin/x1", func(b *testing.B) {
		b.SetBytes(int64(rows * wRow))
		for range b.N {
			for j := 0; j < rows; j++ {
				out[j] = dotMXFP4(w[j*wRow:(j+1)*wRow], a[:aRow], n)
			}
		}
	})
}
