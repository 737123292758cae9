package engine

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Sampling chooses the next token from the logits. Every sampler but temperature
// is off unless asked for; Temperature 0 is greedy: the argmax of the raw logits
// (after the penalties and biases), the lowest id on ties.
type Sampling struct {
	Temperature   float32 // 0: greedy
	TopK          int     // 0: off
	TopP          float32 // 0 or 1: off
	MinP          float32 // 0: off
	RepeatPenalty float32 // 0 or 1: off
	// PresencePenalty is subtracted from the logit of each token that occurs
	// in the last RepeatLastN tokens, FrequencyPenalty times the number of
	// times it occurs there (OpenAI's penalties, as llama.cpp applies them).
	PresencePenalty  float32 // 0: off
	FrequencyPenalty float32 // 0: off
	// RepeatLastN is how many recent tokens (prompt and generated) the
	// penalties look at: 0 is 64, -1 the whole context.
	RepeatLastN int
	// LogitBias is added to the logits of its tokens before anything else
	// (a large negative bias bans a token).
	LogitBias map[int32]float32
	Seed      uint64 // the same seed gives the same output
}

// Validate reports a value no sampler can use: NaN or infinite values,
// negative temperature, top-k or penalties, top-p or min-p outside [0, 1].
func (o Sampling) Validate() error {
	bad := func(v float32) bool { return math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) }
	switch {
	case bad(o.Temperature) || o.Temperature < 0:
		return fmt.Errorf("engine: temperature must be a finite number, 0 or more, got %v", o.Temperature)
	case o.TopK < 0:
		return fmt.Errorf("engine: top-k must be 0 (off) or more, got %d", o.TopK)
	case bad(o.TopP) || o.TopP < 0 || o.TopP > 1:
		return fmt.Errorf("engine: top-p must be between 0 and 1, got %v", o.TopP)
	case bad(o.MinP) || o.MinP < 0 || o.MinP > 1:
		return fmt.Errorf("engine: min-p must be between 0 and 1, got %v", o.MinP)
	case bad(o.RepeatPenalty) || o.RepeatPenalty < 0:
		return fmt.Errorf("engine: repeat penalty must be a finite number, 0 or more, got %v", o.RepeatPenalty)
	case bad(o.PresencePenalty):
		return fmt.Errorf("engine: presence penalty must be a finite number, got %v", o.PresencePenalty)
	case bad(o.FrequencyPenalty):
		return fmt.Errorf("engine: frequency penalty must be a finite number, got %v", o.FrequencyPenalty)
	case o.RepeatLastN < -1:
		return fmt.Errorf("engine: repeat-last-n must be -1 (the whole context), 0 (64) or more, got %d", o.RepeatLastN)
	}
	for id, b := range o.LogitBias {
		if math.IsNaN(float64(b)) {
			return fmt.Errorf("engine: the logit bias of token %d is NaN", id)
		}
	}
	return nil
}

// DefaultSampling is greedy decoding.
func DefaultSampling() Sampling { return Sampling{TopP: 1, RepeatPenalty: 1} }

// sampler applies Sampling in llama.cpp's order: repetition penalty, top-k,
// top-p, min-p, temperature, then a draw.
type sampler struct {
	opts   Sampling
	rng    *rand.Rand
	cands  []candidate
	recent []int32
}

type candidate struct {
	id    int32
	logit float32
	p     float32
}

// newSampler makes opts' sampler for a context of ctxLen positions.
func newSampler(opts Sampling, ctxLen int) *sampler {
	switch opts.RepeatLastN {
	case 0:
		opts.RepeatLastN = 64
	case -1:
		opts.RepeatLastN = ctxLen
	}
	return &sampler{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))}
}

// accept records a token of the context (prompt or generated) for the penalty.
func (s *sampler) accept(id int32) {
	if !s.opts.penalized() {
		return
	}
	s.recent = append(s.recent, id)
	if len(s.recent) > s.opts.RepeatLastN {
		s.recent = s.recent[len(s.recent)-s.opts.RepeatLastN:]
	}
}

func argmax(logits []float32) int32 {
	best := 0
	for i, l := range logits {
		if l > logits[best] {
			best = i
		}
	}
	return int32(best)
}

// penalized is whether any penalty looks at recent tokens.
func (o Sampling) penalized() bool {
	return (o.RepeatPenalty != 0 && o.RepeatPenalty != 1) || o.PresencePenalty != 0 || o.FrequencyPenalty != 0
}

func (s *sampler) sample(logits []float32) int32 {
	o := s.opts
	for id, b := range o.LogitBias {
		if id >= 0 && int(id) < len(logits) {
			logits[id] += b
		}
	}
	penalty := o.penalized()
	if o.Temperature <= 0 && !penalty {
		return argmax(logits)
	}
	if penalty {
		count := map[int32]int{}
		for _, id := range s.recent {
			if int(id) < len(logits) && id >= 0 {
				count[id]++
			}
		}
		for id, n := range count {
			if o.RepeatPenalty != 0 && o.RepeatPenalty != 1 {
				if logits[id] > 0 {
					logits[id] /= o.RepeatPenalty
				} else {
					logits[id] *= o.RepeatPenalty
				}
			}
			logits[id] -= float32(n)*o.FrequencyPenalty + o.PresencePenalty
		}
	}
	if o.Temperature <= 0 {
		return argmax(logits)
	}
	var c []candidate
	if o.TopK > 0 && o.TopK < len(logits) {
		c = topK(s.cands[:0], logits, o.TopK)
	} else {
		c = s.cands[:0]
		for i, l := range logits {
			c = append(c, candidate{id: int32(i), logit: l})
		}
	}
	return s.draw(c)
}

// fromTop is sample when the logits' top-k candidates (Sampling.TopK of
// them) were found elsewhere, on the device: the rest of the chain runs on
// them alone, as sample would after its own top-k. Only for what
// topKOnly allows: no penalty or bias, a positive temperature.
func (s *sampler) fromTop(ids []int32, logits []float32) int32 {
	c := s.cands[:0]
	for i, id := range ids {
		c = append(c, candidate{id: id, logit: logits[i]})
	}
	return s.draw(c)
}

// draw runs the chain after top-k on candidates c: sort, top-p, min-p,
// temperature, then a draw.
func (s *sampler) draw(c []candidate) int32 {
	o := s.opts
	slices.SortFunc(c, candidateOrder)
	if o.TopP > 0 && o.TopP < 1 {
		softmax(c, 1)
		var cum float32
		for i := range c {
			cum += c[i].p
			if cum >= o.TopP {
				c = c[:i+1]
				break
			}
		}
	}
	if o.MinP > 0 {
		softmax(c, 1)
		limit := c[0].p * o.MinP
		keep := 1
		for keep < len(c) && c[keep].p >= limit {
			keep++
		}
		c = c[:keep]
	}
	softmax(c, o.Temperature)
	s.cands = c
	r := s.rng.Float32()
	var cum float32
	for _, cd := range c {
		cum += cd.p
		if r < cum {
			return cd.id
		}
	}
	return c[len(c)-1].id
}

// softmax sets p of each candidate (sorted, highest first) from logit/temperature.
func softmax(c []candidate, temperature float32) {
	maxLogit := c[0].logit / temperature
	var sum float64
	for i := range c {
		e := math.Exp(float64(c[i].logit/temperature - maxLogit))
		c[i].p = float32(e)
		sum += e
	}
	for i := range c {
		c[i].p = float32(float64(c[i].p) / sum)
	}
}

// candidateOrder is the candidates' order: highest logit first, the lower id
// first on ties, so the order is deterministic.
func candidateOrder(a, b candidate) int {
	if r := cmp.Compare(b.logit, a.logit); r != 0 {
		return r
	}
	return cmp.Compare(a.id, b.id)
}

// topK appends to c the k candidates that come first in candidateOrder, in no
// particular order: a min-heap of k (its root the last of those kept so far)
// that each logit is compared with once, so a 128k vocabulary costs one pass
// instead of a sort.
func topK(c []candidate, logits []float32, k int) []candidate {
	for i, l := range logits[:k] {
		c = append(c, candidate{id: int32(i), logit: l})
	}
	// after reports whether a comes after b in candidateOrder.
	after := func(a, b candidate) bool { return candidateOrder(a, b) > 0 }
	down := func(i int) {
		for {
			l, r, last := 2*i+1, 2*i+2, i
			if l < k && after(c[l], c[last]) {
				last = l
			}
			if r < k && after(c[r], c[last]) {
				last = r
			}
			if last == i {
				return
			}
			c[i], c[last] = c[last], c[i]
			i = last
		}
	}
	for i := k/2 - 1; i >= 0; i-- {
		down(i)
	}
	for i := k; i < len(logits); i++ {
		// Ids rise, so a tie with the root comes after it: only a larger
		// logit enters (or any number, while the root is a NaN).
		if l := logits[i]; l > c[0].logit || (c[0].logit != c[0].logit && l == l) {
			c[0] = candidate{id: int32(i), logit: logits[i]}
			down(0)
		}
	}
	return c
}
