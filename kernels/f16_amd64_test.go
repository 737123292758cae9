package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The F16 row conversions give their twins' bits, NaN payloads included.
func TestF16RowsMatchTwins(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 15, 16, 17, 64, 100, 1024} {
		for rep := 0; rep < 20; rep++ {
			src := randBitsF32(rng, n)
			if rep%2 == 0 { // half the rows without NaNs, to take the fast path
				for i, x := range src {
					if x != x {
						src[i] = 1
					}
				}
			}
			want, got := make([]byte, 2*n), make([]byte, 2*n)
			quantizeF16(want, src)
			quantizeF16AVX512(got, src)
			if string(got) != string(want) {
				t.Fatalf("quantizeF16, n %d: differs from the twin", n)
			}
			wf, gf := make([]float32, n), make([]float32, n)
			dequantizeF16(wf, want)
			dequantizeF16AVX512(gf, want)
			sameBits(t, "dequantizeF16", gf, wf)
			copy(wf, src)
			copy(gf, src)
			roundToF16(wf)
			roundToF16AVX512(gf)
			sameBits(t, "RoundToF16", gf, wf)
		}
	}
}

// The F16 dot gives its twin's bits for every length (full and partial
// 64-value chunks).
func TestDotF16MatchesTwin(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for n := 0; n <= 300; n++ {
		for rep := 0; rep < 3; rep++ {
			w, a := make([]byte, 2*n+64), make([]byte, 2*n+64)
			for i := range w {
				w[i], a[i] = byte(rng.Uint32()), byte(rng.Uint32())
			}
			if rep > 0 { // finite values of moderate size, most of the time
				quantizeF16(w, randFloats(rng, n, -4, 4))
				quantizeF16(a, randFloats(rng, n, -4, 4))
			}
			want, got := dotF16(w, a, n), dotF16Fast(w, a, n)
			if !sameFloat(got, want) {
				t.Fatalf("n %d: %g (%x), twin %g (%x)", n, got, math.Float32bits(got), want, math.Float32bits(want))
			}
		}
	}
}
