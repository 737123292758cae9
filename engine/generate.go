package engine

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/conveyor-llm/conveyor/model"
)

// Request is one generation.
type Request struct {
	// Prompt is tokenized with BOS (as the vocabulary asks) and special tokens
	// parsed; an empty prompt generates from BOS alone. PromptIDs, when set,
	// is used instead.
	Prompt    string
	PromptIDs []int32
	// MaxTokens is how many tokens to generate at most, as llama.cpp's -n:
	// -1 is until an end-of-generation token or the end of the context, 0
	// generates nothing (the prompt is still computed, for TopLogits).
	MaxTokens int
	Sampling  Sampling
	// Stop ends generation when the text contains one of these; the text
	// returned stops before it.
	Stop []string
	// IgnoreEOS goes on past end-of-generation tokens, as llama.cpp's
	// --ignore-eos does (they are never sampled).
	IgnoreEOS bool
	// TopLogits, when > 0, records the TopLogits largest raw logits after the prompt.
	TopLogits int
	// Grammar, in llama.cpp's GBNF format, constrains the generated text:
	// only tokens whose bytes the grammar allows are sampled, end of
	// generation only once the text is complete, and generation ends when
	// nothing more can follow. JSONSchema (a JSON Schema as JSON text) is
	// converted to such a grammar; set at most one of them.
	Grammar    string
	JSONSchema string
	// Logprobs gives each Token its log-probability and the TopLogprobs
	// most likely tokens' (logprobs.go).
	Logprobs    bool
	TopLogprobs int
	// Keep is how many tokens at the start of the prompt a context shift
	// keeps besides a BOS token, as llama-server's n_keep (-1: the whole
	// prompt; 0: SessionOptions.Keep in Session.Generate, none in a
	// Scheduler). A chat's system prompt is a natural choice.
	Keep int
}

// Token is one generated token and the text it completed (empty while a
// multi-byte character or a possible stop string is still incomplete).
type Token struct {
	ID   int32
	Text string
	// Logprob and TopLogprobs, with Request.Logprobs: the log-softmax of
	// the model's raw logits for this token and the most likely ones.
	Logprob     float32
	TopLogprobs []TokenLogprob
}

// Stats are what a run cost.
type Stats struct {
	PromptTokens    int     `json:"prompt_tokens"`
	ReusedTokens    int     `json:"reused_tokens"`
	GeneratedTokens int     `json:"generated_tokens"`
	LoadSeconds     float64 `json:"load_s"`
	TTFTSeconds     float64 `json:"ttft_s"`
	PrefillTokPerS  float64 `json:"prefill_tok_s"`
	DecodeTokPerS   float64 `json:"decode_tok_s"`
	// ContextShifts is how many times a full context was shifted
	// (SessionOptions.ContextShift).
	ContextShifts int `json:"context_shifts,omitempty"`
}

// String is the one-line summary printed after a run.
func (s Stats) String() string {
	out := fmt.Sprintf("prompt %d tokens (%d reused), generated %d tokens; load %.2f s, time to first token %.3f s, prefill %.1f tok/s, decode %.1f tok/s",
		s.PromptTokens, s.ReusedTokens, s.GeneratedTokens, s.LoadSeconds, s.TTFTSeconds, s.PrefillTokPerS, s.DecodeTokPerS)
	if s.ContextShifts > 0 {
		out += fmt.Sprintf(", %d context shifts", s.ContextShifts)
	}
	return out
}

// Result is a finished generation.
type Result struct {
	PromptIDs    []int32
	GeneratedIDs []int32
	Text         string // the generated text only
	// StopReason is "eog" (end-of-generation token), "stop" (a stop string),
	// "length" (MaxTokens), "context" (the context is full) or "cancelled"
	// ("eog" too when a grammar is complete and nothing more can follow).
	StopReason string
	TopLogits  []TokenLogit
	Stats      Stats
}

// TokenLogit is a token id with its raw logit.
type TokenLogit struct {
	ID    int32
	Logit float32
}

// ErrPromptTooLong is returned when the prompt does not fit in the context.
var ErrPromptTooLong = errors.New("prompt too long")

// Stream is Generate as an iterator: for tok, err := range s.Stream(ctx, req).
// An error ends the sequence as its last pair. Stream gives no Result; use
// Generate for the stop reason, the token ids and the stats.
func (s *Session) Stream(ctx context.Context, req Request) iter.Seq2[Token, error] {
	return func(yield func(Token, error) bool) {
		stop := errors.New("stopped by the caller")
		_, err := s.Generate(ctx, req, func(t Token) error {
			if !yield(t, nil) {
				return stop
			}
			return nil
		})
		if err != nil && !errors.Is(err, stop) {
			yield(Token{}, err)
		}
	}
}

// Generate runs req, calling emit (when not nil) for each generated token as it is chosen.
// It stops within one token when ctx is cancelled (StopReason "cancelled",
// with ctx's error) or when emit returns an error (returned as it is).
func (s *Session) Generate(ctx context.Context, req Request, emit func(Token) error) (*Result, error) {
	if s.state == nil {
		return nil, ErrSessionClosed
	}
	if s.m.backend == nil {
		return nil, ErrModelClosed
	}
	if ctx == nil {
		ctx = context.Background()
	}
	prompt, err := s.m.promptIDs(req, s.opts.Context)
	if err != nil {
		return nil, err
	}
	q := s.m.newSequence(req, prompt, s.opts.Context, emit)
	n := req.Keep
	if n == 0 {
		n = s.opts.Keep
	}
	keep := s.m.shiftKeep(prompt, n)
	q.canShift = s.opts.ContextShift && canShift(s.opts.Context, keep)

	// Reuse the cached prefix; recompute at least the last prompt token for its logits.
	reuse := s.m.reusableState(s.history, prompt)
	s.history = append(s.history[:reuse], prompt[reuse:]...)
	q.res.Stats.ReusedTokens = reuse
	if err := ctx.Err(); err != nil {
		q.res.StopReason = "cancelled"
		return q.res, err
	}
	logits, err := s.prefill(prompt[reuse:], reuse)
	if err != nil {
		s.history = s.history[:reuse]
		return nil, err
	}
	q.prefilled(logits, len(prompt)-reuse)
	greedy := -1       // the argmax after the last token, when computed instead of logits
	var topIDs []int32 // the top-k candidates after it, when found instead of logits
	var topLogits []float32
	for {
		var next int32
		var done bool
		if greedy >= 0 {
			next, done, err = q.stepID(ctx, int32(greedy), len(s.history))
		} else if topIDs != nil {
			next, done, err = q.stepTop(ctx, topIDs, topLogits, len(s.history))
		} else {
			next, done, err = q.step(ctx, logits, len(s.history))
		}
		if done {
			return q.res, err
		}
		if len(s.history) >= s.opts.Context { // q.canShift: no room for next
			if logits, err = s.shift(next, keep); err != nil {
				q.res.StopReason = "context"
				q.finish()
				return q.res, err
			}
			greedy, topIDs = -1, nil
			q.res.Stats.ContextShifts++
			continue
		}
		pos := len(s.history)
		s.history = append(s.history, next)
		if q.argmaxOnly() { // a few bytes read back instead of the logits
			ids, err := s.forwardArgmax(singleToken(next, pos))
			if err != nil {
				s.history = s.history[:pos]
				return q.res, err
			}
			greedy = int(ids[0])
			continue
		}
		if k := q.topKOnly(); k > 0 && s.canTopK(k) { // 8k bytes read back
			if topIDs, topLogits, err = s.forwardTopK(singleToken(next, pos), k); err != nil {
				s.history = s.history[:pos]
				return q.res, err
			}
			continue
		}
		out, err := s.Forward(singleToken(next, pos))
		if err != nil {
			s.history = s.history[:pos]
			return q.res, err
		}
		logits = out[0]
	}
}

// shiftKeep is how many tokens at the start of the cache a context shift
// keeps: n of the prompt (-1: all of it), and a BOS token.
func (m *Model) shiftKeep(prompt []int32, n int) int {
	bos := 0
	if len(prompt) > 0 && prompt[0] == m.tok.BOS() {
		bos = 1
	}
	if n < 0 || n+bos > len(prompt) {
		return len(prompt)
	}
	return n + bos
}

// canShift reports whether a context shift that keeps keep tokens of a
// context of ctxLen frees anything.
func canShift(ctxLen, keep int) bool { return (ctxLen-keep)/2 >= 1 }

// shift makes room in a full cache: it keeps the first keep tokens, drops
// half of the others, the oldest, and recomputes the rest at their new
// positions with next after them, returning the logits after next.
func (s *Session) shift(next int32, keep int) ([]float32, error) {
	discard := (len(s.history) - keep) / 2
	s.history = append(s.history[:keep], s.history[keep+discard:]...)
	s.history = append(s.history, next)
	from := keep
	if s.m.recurrent() { // a recurrent state cannot drop tokens: recompute all
		from = 0
	}
	logits, err := s.prefill(s.history[from:], from)
	if err != nil {
		s.history = s.history[:from]
		return nil, err
	}
	return logits, nil
}

// Reset forgets the cached history, so the next prompt is computed whole.
func (s *Session) Reset() { s.history = s.history[:0] }

func singleToken(id int32, pos int) model.Batch {
	return model.Batch{Tokens: []int32{id}, Pos: []int32{int32(pos)}, Seq: []int32{0}, Outputs: []int32{0}}
}

func commonPrefix(a, b []int32) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func topLogits(logits []float32, k int) []TokenLogit {
	all := make([]TokenLogit, len(logits))
	for i, l := range logits {
		all[i] = TokenLogit{int32(i), l}
	}
	slices.SortStableFunc(all, func(a, b TokenLogit) int {
		switch {
		case a.Logit > b.Logit:
			return -1
		case a.Logit < b.Logit:
			return 1
		}
		return 0
	})
	return all[:min(k, len(all))]
}

// stopText holds back generated text that may be the start of a stop string.
type stopText struct {
	stops   []string
	pending string
	emitted strings.Builder
}

// add takes newly decoded text and returns what can be shown now, and whether a
// stop string was reached (the text before it is shown, the rest dropped).
func (t *stopText) add(s string) (string, bool) {
	t.pending += s
	for _, stop := range t.stops {
		if stop == "" {
			continue
		}
		if i := strings.Index(t.pending, stop); i >= 0 {
			out := t.pending[:i]
			t.pending = ""
			t.emitted.WriteString(out)
			return out, true
		}
	}
	hold := 0
	for _, stop := range t.stops {
		for n := min(len(stop)-1, len(t.pending)); n > hold; n-- {
			if strings.HasSuffix(t.pending, stop[:n]) {
				hold = n
				break
			}
		}
	}
	out := t.pending[:len(t.pending)-hold]
	t.pending = t.pending[len(t.pending)-hold:]
	t.emitted.WriteString(out)
	return out, false
}

// flush returns everything held back, once generation ends without a stop.
func (t *stopText) flush(s string) string {
	out := t.pending + s
	t.pending = ""
	t.emitted.WriteString(out)
	return out
}
