package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/model"
)

// BenchOptions are llama-bench's: a prompt of Prompt tokens processed as one
// batch from an empty cache (logits for the last only), and Gen single-token
// decodes after an 8-token prompt, each repeated Reps times after a warm-up.
// With Depth (llama-bench's -d, --n-depth), a context of Depth random tokens
// is prefilled first, untimed, and the prompt batch and the decodes come
// after it (positions Depth..), in place of the empty cache and the 8-token
// prompt.
type BenchOptions struct {
	Prompt, Gen, Reps int
	Depth             int
	// Started, if set, is called once the context is in the cache, before
	// the first measured run (a CPU profile of the runs starts there).
	Started func()
	// UBatch is the most prompt tokens computed in one forward pass, as
	// llama.cpp's n_ubatch (0: the model's DefaultBatchSize); a longer
	// prompt is computed in pieces of UBatch, each after the one before.
	UBatch int
	// CacheType is the KV cache's type (SessionOptions.CacheType), and
	// KeyCacheType and ValueCacheType the keys' and the values' apart.
	CacheType, KeyCacheType, ValueCacheType string
}

// BenchResult holds the median rates; zero where a part was not asked for.
type BenchResult struct {
	PromptTokPerS float64
	GenTokPerS    float64
	// PerToken is the backend's work per decoded token over the measured
	// decode runs (the warm-up excluded); nil where the backend does not
	// count it (backend.Counting) or no decode was asked for.
	PerToken *PerToken
}

// PerToken is a backend's device work for one decoded token (greedy: the
// argmax is computed on the device where the backend can).
type PerToken struct {
	Dispatches float64 `json:"dispatches"`
	Barriers   float64 `json:"barriers"`
	Submits    float64 `json:"submits"`
	RecordUS   float64 `json:"record_us"` // mean
	// RecordUSMedian is the median over the measured tokens: the mean
	// counts the odd token whose host thread was descheduled mid-submit.
	RecordUSMedian float64 `json:"record_us_median"`
	ReadbackBytes  float64 `json:"readback_bytes"`
}

// Bench measures prefill and decode speed with random tokens.
func (m *Model) Bench(o BenchOptions) (BenchResult, error) {
	if o.Reps <= 0 {
		o.Reps = 1
	}
	if o.Depth < 0 {
		return BenchResult{}, fmt.Errorf("bench: depth %d is negative", o.Depth)
	}
	// genStart is where the decodes begin: after the 8-token prompt, or
	// after the context.
	genStart := 8
	if o.Depth > 0 {
		genStart = o.Depth
	}
	ctx := max(o.Depth+o.Prompt, genStart+o.Gen) + 1
	ub := o.UBatch
	if ub <= 0 {
		ub = m.DefaultBatchSize()
	}
	ubatch := max(min(ub, o.Prompt), 1)
	batch := max(ubatch, 8)
	if o.Depth > 0 {
		batch = max(batch, min(ub, o.Depth)) // the context goes in whole ubatches
	}
	s, err := m.NewSession(SessionOptions{Context: ctx, BatchSize: batch, CacheType: o.CacheType,
		KeyCacheType: o.KeyCacheType, ValueCacheType: o.ValueCacheType})
	if err != nil {
		return BenchResult{}, err
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	vocab := m.Hyper().Vocab
	tokens := func(n int) []int32 {
		t := make([]int32, n)
		for i := range t {
			t[i] = int32(rng.IntN(vocab))
		}
		return t
	}
	var afterDepth int32 // the greedy token after the context
	if o.Depth > 0 {
		last, err := s.prefill(tokens(o.Depth), 0)
		if err != nil {
			return BenchResult{}, fmt.Errorf("bench: context of %d tokens: %w", o.Depth, err)
		}
		afterDepth = argmax(last)
	}
	if o.Started != nil {
		o.Started()
	}
	var res BenchResult
	if o.Prompt > 0 {
		prompt := tokens(o.Prompt)
		rates, err := repeat(o.Reps, func() (float64, error) {
			start := time.Now()
			for at := 0; at < len(prompt); at += ubatch {
				if _, err := s.Forward(seqBatch(prompt[at:min(at+ubatch, len(prompt))], o.Depth+at)); err != nil {
					return 0, err
				}
			}
			return float64(o.Prompt) / time.Since(start).Seconds(), nil
		})
		if err != nil {
			return res, err
		}
		res.PromptTokPerS = rates
	}
	if o.Gen > 0 {
		prompt := tokens(8)
		counting, _ := m.backend.(backend.Counting)
		var work backend.Counters // summed over the measured runs
		var recordNanos []int64   // per measured token
		runs := 0
		rates, err := repeat(o.Reps, func() (float64, error) {
			next := afterDepth
			if o.Depth == 0 {
				ids, err := s.forwardArgmax(seqBatch(prompt, 0))
				if err != nil {
					return 0, err
				}
				next = ids[0]
			}
			var before backend.Counters
			if counting != nil {
				before = counting.Counters()
			}
			start := time.Now()
			for i := 0; i < o.Gen; i++ {
				var tokBefore int64
				if counting != nil {
					tokBefore = counting.Counters().RecordNanos
				}
				ids, err := s.forwardArgmax(singleToken(next, genStart+i))
				if err != nil {
					return 0, err
				}
				next = ids[0]
				if counting != nil && runs > 0 {
					recordNanos = append(recordNanos, counting.Counters().RecordNanos-tokBefore)
				}
			}
			rate := float64(o.Gen) / time.Since(start).Seconds()
			if counting != nil && runs > 0 { // runs 0 is the warm-up
				after := counting.Counters()
				work.Dispatches += after.Dispatches - before.Dispatches
				work.Barriers += after.Barriers - before.Barriers
				work.Submits += after.Submits - before.Submits
				work.RecordNanos += after.RecordNanos - before.RecordNanos
				work.ReadbackBytes += after.ReadbackBytes - before.ReadbackBytes
			}
			runs++
			return rate, nil
		})
		if err != nil {
			return res, err
		}
		res.GenTokPerS = rates
		if counting != nil {
			n := float64((runs - 1) * o.Gen)
			res.PerToken = &PerToken{
				Dispatches: float64(work.Dispatches) / n, Barriers: float64(work.Barriers) / n,
				Submits: float64(work.Submits) / n, RecordUS: float64(work.RecordNanos) / 1e3 / n,
				ReadbackBytes: float64(work.ReadbackBytes) / n,
			}
			if len(recordNanos) > 0 {
				slices.Sort(recordNanos)
				res.PerToken.RecordUSMedian = float64(recordNanos[len(recordNanos)/2]) / 1e3
			}
		}
	}
	return res, nil
}

// repeat runs f once to warm up, then reps times, and returns the median.
func repeat(reps int, f func() (float64, error)) (float64, error) {
	if _, err := f(); err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	rates := make([]float64, reps)
	for i := range rates {
		r, err := f()
		if err != nil {
			return 0, fmt.Errorf("bench: %w", err)
		}
		rates[i] = r
	}
	slices.Sort(rates)
	return rates[reps/2], nil
}

// seqBatch is tokens at positions start.. of sequence 0, logits for the last.
func seqBatch(tokens []int32, start int) model.Batch {
	b := model.Batch{Tokens: tokens, Outputs: []int32{int32(len(tokens) - 1)}}
	for i := range tokens {
		b.Pos = append(b.Pos, int32(start+i))
		b.Seq = append(b.Seq, 0)
	}
	return b
}
