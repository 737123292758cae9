package kernels

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestQuantizeQ8_0AVX512 checks the assembly activation quantizer against
// quantizeQ8_0Activations bit for bit, on rows of every scale and length
// (more than one chunk), with zero blocks and exact ties, the output
// poisoned first.
func TestQuantizeQ8_0AVX512(t *testing.T) {
	if !hasAVX512VNNI {
		t.Skip("no AVX-512 VNNI")
	}
	rng := rand.New(rand.NewPCG(41, 42))
	for iter := 0; iter < 300; iter++ {
		nb := 1 + rng.IntN(150)
		scale := float32(1)
		for range rng.IntN(13) {
			scale *= 10
		}
		scale /= 1e6
		x := randFloats(rng, nb*qk8_0, -scale, scale)
		switch iter % 5 {
		case 1:
			clear(x[:qk8_0]) // a zero block
		case 2:
			for i := range x { // halves: ties in x*(127/amax)
				x[i] = float32(rng.IntN(255)-127) / 2
			}
		}
		got, want := make([]byte, nb*blockQ8_0), make([]byte, nb*blockQ8_0)
		poisonBytes(got)
		quantizeQ8_0AVX512(got, x)
		quantizeQ8_0Activations(want, x)
		require.Equal(t, want, got, "iter %d nb %d", iter, nb)
	}
}
