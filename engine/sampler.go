package engine

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
)

// Sampling chooses the next token from the logits. Every sampler but temperature
// is off unless asked for; Temperature 0 is greedy: the argmax of the raw logits,
// the lowest id on ties.
type Sampling struct {
	Temperature   float32 // 0: greedy
	TopK          int     // 0: off
	TopP          float32 // 1: off
	MinP          float32 // 0: off
	RepeatPenalty float32 // 1: off
	RepeatLastN   int     // how many recent tokens the penalty looks at (0: 64)
	Seed          uint64  // the same seed gives the same output
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

func newSampler(opts Sampling) *sampler {
	if opts.RepeatLastN == 0 {
		opts.RepeatLastN = 64
	}
	return &sampler{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))}
}

// accept records a token of the context (prompt or generated) for the penalty.
func (s *sampler) accept(id int32) {
	if s.opts.RepeatLastN < 0 {
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

func (s *sampler) sample(logits []float32) int32 {
	o := s.opts
	penalty := o.RepeatPenalty != 0 && o.RepeatPenalty != 1
	if o.Temperature <= 0 && !penalty {
		return argmax(logits)
	}
	if penalty {
		seen := map[int32]bool{}
		for _, id := range s.recent {
			if seen[id] || int(id) >= len(logits) {
				continue
			}
			seen[id] = true
			if logits[id] > 0 {
				logits[id] /= o.RepeatPenalty
			} else {
				logits[id] *= o.RepeatPenalty
			}
		}
	}
	if o.Temperature <= 0 {
		return argmax(logits)
	}
	c := s.cands[:0]
	for i, l := range logits {
		c = append(c, candidate{id: int32(i), logit: l})
	}
	// Highest logit first; the lower id first on ties, so the order is deterministic.
	slices.SortFunc(c, func(a, b candidate) int {
		if r := cmp.Compare(b.logit, a.logit); r != 0 {
			return r
		}
		return cmp.Compare(a.id, b.id)
	})
	if o.TopK > 0 && o.TopK < len(c) {
		c = c[:o.TopK]
	}
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
