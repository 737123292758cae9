package engine

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// topK keeps exactly the first k candidates of the full sort, ties (equal
// logits, the lower id first) and NaNs included.
func TestTopKMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for iter := 0; iter < 300; iter++ {
		n := 1 + rng.IntN(3000)
		logits := make([]float32, n)
		for i := range logits {
			switch r := rng.IntN(20); {
			case r == 0:
				logits[i] = float32(math.NaN())
			case r < 8:
				logits[i] = float32(rng.IntN(5)) // many ties
			default:
				logits[i] = float32(rng.NormFloat64() * 3)
			}
		}
		k := 1 + rng.IntN(n)
		want := make([]candidate, n)
		for i, l := range logits {
			want[i] = candidate{id: int32(i), logit: l}
		}
		slices.SortFunc(want, candidateOrder)
		got := topK(nil, logits, k)
		slices.SortFunc(got, candidateOrder)
		if len(got) != k {
			t.Fatalf("n=%d k=%d: %d candidates", n, k, len(got))
		}
		for i := range got {
			if got[i].id != want[i].id {
				t.Fatalf("n=%d k=%d: candidate %d is %d, want %d", n, k, i, got[i].id, want[i].id)
			}
		}
	}
}

// BenchmarkSampleTopK is one draw with llama.cpp's default samplers (top-k
// 40, top-p 0.95, min-p 0.05, temperature 0.8) over a 128k vocabulary.
func BenchmarkSampleTopK(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, 128256)
	for i := range logits {
		logits[i] = float32(rng.NormFloat64() * 3)
	}
	s := newSampler(Sampling{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, RepeatPenalty: 1}, 4096)
	work := make([]float32, len(logits))
	for b.Loop() {
		copy(work, logits)
		s.sample(work)
	}
}
