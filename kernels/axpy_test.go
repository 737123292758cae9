package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// axpyF32 and scaleF32 (AVX-512 where the machine has it) give their Go
// twins' bits at lengths around the 16-value vectors.
func TestAxpyScaleMatchTwins(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 15, 16, 17, 32, 96, 131} {
		x, acc := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], acc[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64()*5)
		}
		w := float32(rng.Float64())
		got, want := append([]float32(nil), acc...), append([]float32(nil), acc...)
		axpyF32(got, x, w)
		axpyF32Go(want, x, w)
		scaleF32(got, w)
		scaleF32Go(want, w)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n %d, value %d: %v, the twin %v", n, i, got[i], want[i])
			}
		}
	}
}
