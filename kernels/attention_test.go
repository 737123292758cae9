package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randBitsF32 is random float32 bit patterns: NaNs, infinities and subnormals
// included, with a bias toward values near F16 boundaries.
func randBitsF32(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		switch rng.IntN(4) {
		case 0:
			v[i] = math.Float32frombits(rng.Uint32())
		case 1:
			v[i] = F16ToF32(uint16(rng.Uint32())) + float32(rng.NormFloat64())*1e-4
		default:
			v[i] = float32(rng.NormFloat64()) * float32(math.Pow(2, float64(rng.IntN(40)-30)))
		}
	}
	return v
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: [%d] = %x, twin %x", what, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
		}
	}
}

// AttnScores and AttnWeightedSum give their twins' bits.
func TestAttentionKernelsMatchTwins(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, hd := range []int{8, 16, 48, 64, 128, 256} {
		for _, nt := range []int{1, 3, 4, 7, 33} {
			stride := hd + rng.IntN(3)*16
			qT := randFloats(rng, hd*ScoreLanes, -3, 3)
			k := randFloats(rng, nt*stride, -3, 3)
			want, got := make([]float32, nt*ScoreLanes), make([]float32, nt*ScoreLanes)
			attnScores(want, qT, k, stride, nt, hd)
			AttnScores(got, qT, k, stride, nt, hd)
			sameBits(t, "AttnScores", got, want)

			w := randFloats(rng, nt, 0, 1)
			wo, gotOut := make([]float32, hd), make([]float32, hd)
			attnWeightedSum(wo, w, k, stride, nt)
			AttnWeightedSum(gotOut, w, k, stride, nt)
			sameBits(t, "AttnWeightedSum", gotOut, wo)
		}
	}
}
