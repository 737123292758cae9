package kernels

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// kq45Twins are the plain-Go dots the Q4_K and Q5_K kernels must match.
var kq45Twins = map[gguf.Type]func(w, a []byte, n int) float32{
	gguf.TypeQ4_K: dotQ4_K,
	gguf.TypeQ5_K: dotQ5_K,
}

// randKWeights returns nb raw Q4_K or Q5_K blocks: random levels, scales and
// mins, finite fp16 d and dmin; extreme sets every level, scale and min to
// its maximum (the largest integer sums).
func randKWeights(rng *rand.Rand, typ gguf.Type, nb int, extreme bool) []byte {
	size := typ.BlockBytes()
	b := make([]byte, nb*size)
	for i := range b {
		b[i] = byte(rng.Uint32())
		if extreme {
			b[i] = 0xff
		}
	}
	for i := 0; i < nb; i++ {
		for k := 0; k < 2; k++ {
			// exponent 0..30: finite, subnormal included, any sign.
			h := uint16(rng.Uint32())&^(0x1f<<10) | uint16(rng.IntN(31))<<10
			binary.LittleEndian.PutUint16(b[i*size+2*k:], h)
		}
	}
	return b
}

// randQ8KActs returns nb raw Q8_K blocks: random quants and bsums (not
// necessarily their sums: the kernels must use the stored ones) and a finite
// scale; extreme draws the quants and bsums from the ends of their ranges.
func randQ8KActs(rng *rand.Rand, nb int, extreme bool) []byte {
	b := make([]byte, nb*blockQ8_K)
	for i := range b {
		b[i] = byte(rng.Uint32())
		if extreme {
			b[i] = []byte{0x80, 0x7f, 0x80, 0x81}[rng.IntN(4)]
		}
	}
	for i := 0; i < nb; i++ {
		d := float32(math.Ldexp(rng.Float64()+0.5, rng.IntN(40)-30))
		if rng.IntN(2) == 0 {
			d = -d
		}
		putF32(b[i*blockQ8_K:], d)
	}
	return b
}

// TestDotTileK45MatchesTwin runs Q4_K and Q5_K DotTile (whatever kernels this
// machine has) and Dot on quantized data at awkward shapes against the twins.
func TestDotTileK45MatchesTwin(t *testing.T) {
	for typ, twin := range kq45Twins {
		t.Run(typ.String(), func(t *testing.T) {
			f := mustFormat(t, typ)
			rng := rand.New(rand.NewPCG(45, uint64(typ)))
			for iter := 0; iter < 40; iter++ {
				n := qkK * (1 + rng.IntN(20))
				nw := 1 + rng.IntN(10)
				na := []int{1, 17, 1 + rng.IntN(9)}[iter%3]
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
						wj, ai := w[j*wStride:j*wStride+wRow], a[i*aStride:i*aStride+aRow]
						want := twin(wj, ai, n)
						if math.Float32bits(got) != math.Float32bits(want) {
							t.Fatalf("n=%d, %dx%d tile: (%d, %d) = %g, want %g", n, nw, na, i, j, got, want)
						}
						if d := f.Dot(wj, ai, n); math.Float32bits(d) != math.Float32bits(want) {
							t.Fatalf("n=%d: Dot = %g, want %g", n, d, want)
						}
					}
				}
			}
		})
	}
}
