package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// lanesDotVariant is one assembly dot in dotF16's lane order and whether
// this machine can run it.
type lanesDotVariant struct {
	name string
	dot  func(w, a []byte, n int) float32
	ok   bool
}

// f32Dots are the F32 row dots: AVX-512, AVX2 and the twin.
var f32Dots = []lanesDotVariant{{"AVX512", dotF32Fast, hasBF16Kernels}, {"AVX2", dotF32AVX2Row, hasAVX2}, {"twin", dotF32, true}}

// The F32 dots give the twin's bits for every length (full and partial
// 64-value chunks), on random bits (NaNs, infinities) and on finite values.
func TestDotF32MatchesTwin(t *testing.T) {
	for _, v := range f32Dots[:2] {
		t.Run(v.name, func(t *testing.T) {
			if !v.ok {
				t.Skip("this CPU cannot run it")
			}
			checkDotF32(t, v.dot)
		})
	}
}

func checkDotF32(t *testing.T, dot func(w, a []byte, n int) float32) {
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
			want, got := dotF32(w, a, n), dot(w, a, n)
			if !sameFloat(got, want) {
				t.Fatalf("n %d: %g (%x), twin %g (%x)", n, got, math.Float32bits(got), want, math.Float32bits(want))
			}
		}
	}
}

// BenchmarkDotF32Kernels times one F32 row dot on cached data, assembly and
// twin, reporting multiply-adds as 2 FLOPs.
func BenchmarkDotF32Kernels(b *testing.B) {
	for _, v := range f32Dots {
		b.Run(v.name, func(b *testing.B) {
			if !v.ok {
				b.Skip("this CPU cannot run it")
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
