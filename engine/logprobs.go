package engine

import (
	"cmp"
	"math"
	"slices"
)

// TokenLogprob is a token id with its log-probability.
type TokenLogprob struct {
	ID      int32
	Logprob float32
}

// logprobs is the log-softmax of the raw logits (the model's distribution,
// before penalties, biases, temperature and truncation): the chosen token's
// log-probability, computed by the caller from raw, and the top k.
type logprobs struct {
	raw []float32
	lse float64
}

// snapshot keeps the logits before the sampler changes them.
func (l *logprobs) snapshot(logits []float32) {
	l.raw = append(l.raw[:0], logits...)
	maxL := math.Inf(-1)
	for _, v := range l.raw {
		maxL = max(maxL, float64(v))
	}
	var sum float64
	for _, v := range l.raw {
		sum += math.Exp(float64(v) - maxL)
	}
	l.lse = maxL + math.Log(sum)
}

func (l *logprobs) of(id int32) float32 { return float32(float64(l.raw[id]) - l.lse) }

func (l *logprobs) top(k int) []TokenLogprob {
	if k <= 0 {
		return nil
	}
	all := make([]TokenLogprob, len(l.raw))
	for i, v := range l.raw {
		all[i] = TokenLogprob{int32(i), v}
	}
	slices.SortStableFunc(all, func(a, b TokenLogprob) int { return cmp.Compare(b.Logprob, a.Logprob) })
	all = all[:min(k, len(all))]
	for i := range all {
		all[i].Logprob = l.of(all[i].ID)
	}
	return all
}
