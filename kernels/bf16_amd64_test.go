package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/conveyor-llm/conveyor/gguf"
)

// The BF16 row conversions give their twins' bits, NaNs included.
func TestBF16RowsMatchTwins(t *testing.T) {
	if !hasBF16Kernels {
		t.Skip("no AVX-512 BW")
	}
	rng := rand.New(rand.NewPCG(31, 32))
	for _, n := range []int{0, 1, 15, 16, 17, 33, 64, 100, 1024} {
		for rep := 0; rep < 20; rep++ {
			src := randBitsF32(rng, n)
			if rep%3 == 0 { // ties and near-ties of the rounding
				for i := range src {
					src[i] = math.Float32frombits(math.Float32bits(src[i])&^0xffff | uint32(0x7fff+rng.IntN(3)))
				}
			}
			want, got := make([]byte, 2*n), make([]byte, 2*n)
			quantizeBF16(want, src)
			quantizeBF16AVX512(got, src)
			if string(got) != string(want) {
				t.Fatalf("quantizeBF16, n %d: differs from the twin", n)
			}
			wf, gf := make([]float32, n), make([]float32, n)
			poisonFloats(gf)
			dequantizeBF16(wf, want)
			dequantizeBF16AVX512(gf, want)
			sameBits(t, "dequantizeBF16", gf, wf)
		}
	}
}

// bf16Dots are the BF16 row dots: AVX-512, AVX2 and the twin.
var bf16Dots = []lanesDotVariant{{"AVX512", dotBF16Fast, hasBF16Kernels}, {"AVX2", dotBF16AVX2Row, hasAVX2}, {"twin", dotBF16, true}}

// The BF16 dots give the twin's bits for every length (full and partial
// 64-value chunks), on random bits and on finite values.
func TestDotBF16MatchesTwin(t *testing.T) {
	for _, v := range bf16Dots[:2] {
		t.Run(v.name, func(t *testing.T) {
			if !v.ok {
				t.Skip("this CPU cannot run it")
			}
			checkDotBF16(t, v.dot)
		})
	}
}

func checkDotBF16(t *testing.T, dot func(w, a []byte, n int) float32) {
	rng := rand.New(rand.NewPCG(33, 34))
	for n := 0; n <= 300; n++ {
		for rep := 0; rep < 3; rep++ {
			w, a := make([]byte, 2*n+64), make([]byte, 2*n+64)
			for i := range w {
				w[i], a[i] = byte(rng.Uint32()), byte(rng.Uint32())
			}
			if rep > 0 { // finite values of moderate size, most of the time
				quantizeBF16(w, randFloats(rng, n, -4, 4))
				quantizeBF16(a, randFloats(rng, n, -4, 4))
			}
			want, got := dotBF16(w, a, n), dot(w, a, n)
			if !sameFloat(got, want) {
				t.Fatalf("n %d: %g (%x), twin %g (%x)", n, got, math.Float32bits(got), want, math.Float32bits(want))
			}
		}
	}
}

// DotTile on BF16 weights (the assembly tiles, or Dot for a single
// activation row) gives the twin's bits at awkward sizes, outputs poisoned
// with NaN beforehand.
func TestDotTileBF16MatchesTwin(t *testing.T) {
	if !hasBF16Kernels {
		t.Skip("no AVX-512 BW")
	}
	f := mustFormat(t, gguf.TypeBF16)
	rng := rand.New(rand.NewPCG(35, 36))
	for iter := 0; iter < 300; iter++ {
		n := f16TileSizes[iter%len(f16TileSizes)]
		if iter%5 == 4 {
			n = 1 + rng.IntN(2200)
		}
		na := []int{1, 17, 1 + rng.IntN(20)}[iter%3]
		raw := iter%4 == 3
		c := newBF16TileCase(rng, n, 1+rng.IntN(13), na, raw)
		f.DotTile(c.dst, c.dStride, c.w, c.wStride, c.nw, c.a, c.aStride, c.na, c.n)
		c.check(t, dotBF16, raw)
	}
}

// The assembly packer and tiles give their Go twins' bits.
func TestBF16TileKernelsMatchTwins(t *testing.T) {
	if !hasBF16Kernels {
		t.Skip("no AVX-512 BW")
	}
	rng := rand.New(rand.NewPCG(37, 38))
	for iter := 0; iter < 120; iter++ {
		n := f16TileSizes[iter%len(f16TileSizes)]
		rows := []int{2, 4, 6}[iter%3]
		c := newBF16TileCase(rng, n, 4, rows, iter%2 == 1)
		rowLen := f16PackedLen(n)
		want, got := make([]float32, rows*rowLen), make([]float32, rows*rowLen)
		poisonFloats(got)
		for i := 0; i < rows; i++ {
			packBF16Tile(want[16*i:], c.a[i*c.aStride:], n, rows)
			packBF16AVX512(got[16*i:], c.a[i*c.aStride:], n, rows)
		}
		sameBits(t, fmt.Sprintf("pack n=%d", n), got, want)
		wantOut, gotOut := make([]float32, rows*5), make([]float32, rows*5)
		poisonFloats(gotOut)
		poisonFloats(wantOut)
		tileBF16(rows, c.w, c.wStride, want, n, wantOut, 5, false)
		tileBF16AVX512(rows, c.w, c.wStride, want, n, gotOut, 5, iter%2 == 0)
		for i := range wantOut {
			if !sameFloat(gotOut[i], wantOut[i]) || (i%5 == 4) != math.IsNaN(float64(gotOut[i])) && iter%2 == 0 {
				t.Fatalf("tile n=%d rows=%d: [%d] = %g, twin %g", n, rows, i, gotOut[i], wantOut[i])
			}
		}
	}
}

// BenchmarkDotBF16Kernels times one BF16 row dot (decoding's matmul) on cached
// data, assembly and twin, reporting multiply-adds as 2 FLOPs.
func BenchmarkDotBF16Kernels(b *testing.B) {
	for _, v := range bf16Dots {
		b.Run(v.name, func(b *testing.B) {
			if !v.ok {
				b.Skip("this CPU cannot run it")
			}
			const n = 2048
			rng := rand.New(rand.NewPCG(1, 2))
			w, a := make([]byte, 2*n), make([]byte, 2*n)
			quantizeBF16(w, randFloats(rng, n, -1, 1))
			quantizeBF16(a, randFloats(rng, n, -1, 1))
			start := time.Now()
			for b.Loop() {
				v.dot(w, a, n)
			}
			b.ReportMetric(2*float64(n*b.N)/time.Since(start).Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkDotTileBF16 times a 64-row BF16 DotTile of 2048 values against
// 2, 6 and 64 activation rows, reporting multiply-adds as 2 FLOPs.
func BenchmarkDotTileBF16(b *testing.B) {
	for _, na := range []int{2, 6, 64} {
		b.Run(fmt.Sprintf("x%d", na), func(b *testing.B) {
			const n, nw = 2048, 64
			f := mustFormat(b, gguf.TypeBF16)
			rng := rand.New(rand.NewPCG(1, 2))
			w, a := make([]byte, 2*n*nw), make([]byte, 2*n*na)
			quantizeBF16(w, randFloats(rng, n*nw, -1, 1))
			quantizeBF16(a, randFloats(rng, n*na, -1, 1))
			dst := make([]float32, nw*na)
			start := time.Now()
			for b.Loop() {
				f.DotTile(dst, nw, w, 2*n, nw, a, 2*n, na, n)
			}
			b.ReportMetric(2*float64(n*nw*na*b.N)/time.Since(start).Seconds()/1e9, "GFLOP/s")
		})
	}
}
