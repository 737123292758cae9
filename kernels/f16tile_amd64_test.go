package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/conveyor-llm/conveyor/gguf"
)

// DotTile on F16 weights (the assembly tiles) gives Dot's bits for fresh
// random inputs at awkward sizes, outputs poisoned with NaN beforehand.
func TestDotTileF16MatchesDot(t *testing.T) {
	if !hasF16Tiles {
		t.Skip("no AVX-512 BW")
	}
	f := mustFormat(t, gguf.TypeF16)
	rng := rand.New(rand.NewPCG(13, 14))
	for iter := 0; iter < 400; iter++ {
		n := f16TileSizes[iter%len(f16TileSizes)]
		if iter%5 == 4 {
			n = 1 + rng.IntN(2200)
		}
		raw := iter%4 == 3
		c := newF16TileCase(rng, n, 1+rng.IntN(13), 1+rng.IntN(20), raw)
		f.DotTile(c.dst, c.dStride, c.w, c.wStride, c.nw, c.a, c.aStride, c.na, c.n)
		c.check(t, f.Dot, raw)
	}
}

// The assembly packer and tiles give their Go twins' bits (NaNs aside, whose
// payloads the conversion instruction quiets).
func TestF16TileKernelsMatchTwins(t *testing.T) {
	if !hasF16Tiles {
		t.Skip("no AVX-512 BW")
	}
	rng := rand.New(rand.NewPCG(15, 16))
	for iter := 0; iter < 120; iter++ {
		n := f16TileSizes[iter%len(f16TileSizes)]
		rows := []int{2, 4, 6}[iter%3]
		c := newF16TileCase(rng, n, 4, rows, iter%2 == 1)
		rowLen := f16PackedLen(n)
		want, got := make([]float32, rows*rowLen), make([]float32, rows*rowLen)
		poisonFloats(got)
		for i := 0; i < rows; i++ {
			packF16Tile(want[16*i:], c.a[i*c.aStride:], n, rows)
			packF16AVX512(got[16*i:], c.a[i*c.aStride:], n, rows)
		}
		for i := range want {
			if !sameFloat(got[i], want[i]) {
				t.Fatalf("pack n=%d: [%d] = %x, twin %x", n, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
			}
		}
		wantOut, gotOut := make([]float32, rows*5), make([]float32, rows*5)
		poisonFloats(gotOut)
		poisonFloats(wantOut)
		tileF16(rows, c.w, c.wStride, want, n, wantOut, 5, false)
		tileF16AVX512(rows, c.w, c.wStride, want, n, gotOut, 5, iter%2 == 0)
		for i := range wantOut {
			if !sameFloat(gotOut[i], wantOut[i]) || (i%5 == 4) != math.IsNaN(float64(gotOut[i])) && iter%2 == 0 {
				t.Fatalf("tile n=%d rows=%d: [%d] = %g, twin %g", n, rows, i, gotOut[i], wantOut[i])
			}
		}
	}
}

// BenchmarkDotTileF16 times a 64x64 F16 tile of 2048 values (TinyLlama's
// width), reporting multiply-adds as 2 FLOPs.
func BenchmarkDotTileF16(b *testing.B) {
	for _, na := range []int{2, 6, 64} {
		b.Run(map[int]string{2: "x2", 6: "x6", 64: "x64"}[na], func(b *testing.B) {
			benchDotTileF16(b, 2048, 64, na)
		})
	}
}

func benchDotTileF16(b *testing.B, n, nw, na int) {
	f := mustFormat(b, gguf.TypeF16)
	rng := rand.New(rand.NewPCG(1, 2))
	w, a := make([]byte, 2*n*nw), make([]byte, 2*n*na)
	for j := 0; j < nw; j++ {
		quantizeF16(w[2*n*j:], randFloats(rng, n, -1, 1))
	}
	for i := 0; i < na; i++ {
		quantizeF16(a[2*n*i:], randFloats(rng, n, -1, 1))
	}
	dst := make([]float32, nw*na)
	start := time.Now()
	for b.Loop() {
		f.DotTile(dst, nw, w, 2*n, nw, a, 2*n, na, n)
	}
	flops := 2 * float64(n) * float64(nw) * float64(na) * float64(b.N)
	b.ReportMetric(flops/time.Since(start).Seconds()/1e9, "GFLOP/s")
}

// BenchmarkTileF16Kernel times the 4x6 assembly tile alone on cached data
// (2048 values), reporting multiply-adds as 2 FLOPs.
func BenchmarkTileF16Kernel(b *testing.B) {
	for _, n := range []int{512, 2048, 8192} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchTileF16Kernel(b, n) })
	}
}

func benchTileF16Kernel(b *testing.B, n int) {
	if !hasF16Tiles {
		b.Skip("no AVX-512 BW")
	}
	const rows = 6
	rng := rand.New(rand.NewPCG(3, 4))
	w := make([]byte, 4*2*n)
	quantizeF16(w, randFloats(rng, 4*n, -1, 1))
	a := randFloats(rng, rows*f16PackedLen(n), -1, 1)
	RoundToF16(a)
	out := make([]float32, rows*4)
	start := time.Now()
	for b.Loop() {
		tileF16AVX512(rows, w, 2*n, a, n, out, 4, false)
	}
	b.ReportMetric(2*float64(n*4*rows*b.N)/time.Since(start).Seconds()/1e9, "GFLOP/s")
}
