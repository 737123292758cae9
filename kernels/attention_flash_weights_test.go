package kernels

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkFlashWeights is one query's softmax factors over 512 keys, scores
// as an F16 q·k of a 64-wide head gives them, scaled by 1/8; ns/score is
// the time per key.
func BenchmarkFlashWeights(b *testing.B) {
	const n = 512
	rng := rand.New(rand.NewPCG(21, 22))
	scores := make([]float32, n)
	for i := range scores {
		scores[i] = float32(rng.NormFloat64() * 16)
	}
	ms, vs := make([]float32, n), make([]float32, n)
	b.ResetTimer()
	for range b.N {
		FlashWeights(ms, vs, scores, 0.125, 0)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/score")
}
