package kernels

import (
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
