package engine

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// A token's logprobs are the log-softmax of the raw logits after the prompt
// (TopLogits, as run --top-logits prints them), whatever the sampler does
// with them (temperature, penalties, biases).
func TestLogprobsAreLogSoftmaxOfRawLogits(t *testing.T) {
	m := loadStories(t)
	s, err := m.NewSession(SessionOptions{})
	require.NoError(t, err)
	defer s.Close()
	vocab := m.Tokenizer().VocabSize()
	ref, err := s.Generate(context.Background(), Request{Prompt: "Once upon a time", MaxTokens: 0, TopLogits: vocab}, nil)
	require.NoError(t, err)
	maxL := float64(ref.TopLogits[0].Logit)
	var sum float64
	for _, tl := range ref.TopLogits {
		sum += math.Exp(float64(tl.Logit) - maxL)
	}
	lse := maxL + math.Log(sum)
	want := map[int32]float64{}
	for _, tl := range ref.TopLogits {
		want[tl.ID] = float64(tl.Logit) - lse
	}
	for _, smp := range []Sampling{DefaultSampling(), {Temperature: 1.5, TopK: 5, RepeatPenalty: 1.3, LogitBias: map[int32]float32{3: 5}, Seed: 7}} {
		var first *Token
		_, err := s.Generate(context.Background(), Request{Prompt: "Once upon a time", MaxTokens: 3, Sampling: smp, Logprobs: true, TopLogprobs: 5},
			func(tok Token) error {
				if first == nil {
					first = &tok
				}
				return nil
			})
		require.NoError(t, err)
		require.InDelta(t, want[first.ID], first.Logprob, 1e-4)
		require.Len(t, first.TopLogprobs, 5)
		for i, tl := range first.TopLogprobs {
			require.Equal(t, ref.TopLogits[i].ID, tl.ID)
			require.InDelta(t, want[tl.ID], tl.Logprob, 1e-4)
		}
	}
}
