package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// The F32 dot gives its twin's bits for every length (full and partial
// 64-value chunks), on random bits (NaNs, infinities) and on finite values.
func TestDotF32MatchesTwin(t *testing.T) {
	if !hasBF16Kernels {
		t.Skip("no AVX-512 BW")
	}
	rng := rand.New(rand.NewPCG(41, 42))
	for n := 0; n <= 300; n++ {
		for rep := 0; rep < 3; rep++ {
			w, a := make([]byte, 4*n+64), make([]byte, 4*n+64)
			if rep == 0 {
				quantizeF32(w, randBitsF32(rng, n))
				quantizeF32(a, randBitsF32(rng, n))
			} else {
				quantizeF32(w, randFloats(rng, n, -4, 4))
				quantizeF32(a, randFloats(rng, n, -4, 4))
			}
			want, got := dotF32(w, a, n), dotF32Fast(w, a, n)
			if !sameFloat(got, want) {
				t.Fatalf("n %d: %g (%x), twin %g (%x)", n, got, math.Float32bits(got), want, math.Float32bits(want))
			}
		}
	}
}

// BenchmarkDotF32Kernels times one F32 row dot on cached data, assembly and
// twin, reporting multiply-adds as 2 FLOPs.
func BenchmarkDotF32Kernels(b *testing.B) {
	for _, v := range []struct {
		name string
		dot  func(w, a []byte, n int) float32
		ok   bool
	}{{"asm", dotF32Fast, hasBF16Kernels}, {"twin", dotF32, true}} {
		b.Run(v.name, func(b *testing.B) {
			if !v.ok {
				b.Skip("no AVX-512 BW")
			}
			const n = 2048
			rng := rand.New(rand.NewPCG(1, 2))
			w, a := make([]byte, 4*n), make([]byte, 4*n)
			quantizeF32(w, randFloats(rng, n, -1, 1))
			quantizeF32(a, randFloats(rng, n, -1, 1))
			start := time.Now()
			for b.Loop() {
				v.dot(w, a, n)
			}
			b.ReportMetric(2*float64(n*b.N)/time.Since(start).Seconds()/1e9, "GFLOP/s")
		})
	}
}
