package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/tokenizer"
)

// sequence is one generation in progress: sampling, stop conditions, streamed
// text and stats. Session.Generate steps one; the Scheduler steps many in one
// batch. Its owner feeds it the logits after each token it has put in the cache.
type sequence struct {
	req    Request
	lp     logprobs // with req.Logprobs: the logits the sampler saw, as log-probabilities
	tok    *tokenizer.Tokenizer
	res    *Result
	smp    *sampler
	stream *tokenizer.StreamDecoder
	text   *stopText
	emit   func(Token) error
	ctxLen int
	// canShift: a full context is shifted by the caller, not the end.
	canShift bool
	start    time.Time
	firstAt  time.Time
	con      *constraint // nil without a grammar
}

// promptIDs tokenizes req's prompt (BOS as the vocabulary asks, special tokens
// parsed); an empty prompt is BOS alone.
func (m *Model) promptIDs(req Request, ctxLen int) ([]int32, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	prompt := req.PromptIDs
	if prompt == nil {
		prompt = m.tok.Encode(req.Prompt, true, true)
	}
	if len(prompt) == 0 {
		if m.tok.BOS() < 0 {
			return nil, errors.New("engine: empty prompt and the vocabulary has no BOS token")
		}
		prompt = []int32{m.tok.BOS()}
	}
	if len(prompt) > ctxLen {
		return nil, fmt.Errorf("engine: %w: %d tokens, the context holds %d", ErrPromptTooLong, len(prompt), ctxLen)
	}
	if vocab := int32(m.tok.VocabSize()); req.PromptIDs != nil {
		for _, id := range prompt {
			if id < 0 || id >= vocab {
				return nil, fmt.Errorf("engine: prompt token %d is outside the vocabulary (0 to %d)", id, vocab-1)
			}
		}
	}
	return prompt, nil
}

// Validate reports a request no generation can run: bad sampling values, a
// MaxTokens or Keep below -1, a negative TopLogits.
func (req Request) Validate() error {
	if req.MaxTokens < -1 {
		return fmt.Errorf("engine: MaxTokens must be -1 (no limit), 0 (generate nothing) or more, got %d", req.MaxTokens)
	}
	if req.TopLogits < 0 {
		return fmt.Errorf("engine: TopLogits must not be negative, got %d", req.TopLogits)
	}
	if req.Keep < -1 {
		return fmt.Errorf("engine: Keep must be -1 (the whole prompt), 0 or more, got %d", req.Keep)
	}
	if err := req.Sampling.Validate(); err != nil {
		return err
	}
	_, err := req.compileGrammar()
	return err
}

func (m *Model) newSequence(req Request, prompt []int32, ctxLen int, emit func(Token) error) *sequence {
	if emit == nil {
		emit = func(Token) error { return nil }
	}
	q := &sequence{
		req: req, tok: m.tok, emit: emit, ctxLen: ctxLen, start: time.Now(),
		res:    &Result{PromptIDs: prompt, Stats: Stats{PromptTokens: len(prompt), LoadSeconds: m.LoadTime.Seconds()}},
		smp:    newSampler(req.Sampling, ctxLen),
		stream: m.tok.NewStreamDecoder(),
		text:   &stopText{stops: req.Stop},
	}
	for _, id := range prompt {
		q.smp.accept(id)
	}
	if g, _ := req.compileGrammar(); g != nil { // checked by Validate
		q.con = newConstraint(g, &m.gvocab, m.tok, req.IgnoreEOS)
	}
	return q
}

// reusable is how much of a cached history a prompt can reuse: the common
// prefix, but never the whole prompt (its last token is computed for its logits).
func reusable(history, prompt []int32) int {
	n := commonPrefix(history, prompt)
	if n == len(prompt) {
		n--
	}
	return n
}

// prefilled records the logits after the prompt and the prefill rate.
func (q *sequence) prefilled(logits []float32, computed int) {
	if d := time.Since(q.start); d > 0 {
		q.res.Stats.PrefillTokPerS = float64(computed) / d.Seconds()
	}
	if q.req.TopLogits > 0 {
		q.res.TopLogits = topLogits(logits, q.req.TopLogits)
	}
}

// step chooses the next token from the logits after the last cached token
// (cached tokens in all: cached). It returns the token to feed next, or done
// when generation has ended, with the error that ended it, if any.
func (q *sequence) step(ctx context.Context, logits []float32, cached int) (next int32, done bool, err error) {
	req, tok, res := q.req, q.tok, q.res
	if req.MaxTokens == 0 {
		return 0, true, q.end("length")
	}
	if req.IgnoreEOS {
		for _, id := range tok.EOGs() {
			if id >= 0 && int(id) < len(logits) {
				logits[id] = float32(math.Inf(-1))
			}
		}
	}
	if req.Logprobs {
		q.lp.snapshot(logits)
	}
	if q.argmaxOnly() {
		return q.stepID(ctx, argmax(logits), cached)
	}
	var id int32
	if q.con != nil {
		if id, err = q.con.sample(q.smp, logits, q.tokensLeft(cached)); err != nil {
			res.StopReason = "grammar"
			q.finish()
			return 0, true, err
		}
		q.con.accept(id)
	} else {
		id = q.smp.sample(logits)
	}
	return q.stepID(ctx, id, cached)
}

// tokensLeft is how many tokens the answer may still have, this one
// included, before MaxTokens or a full context ends it; 0 for no limit.
func (q *sequence) tokensLeft(cached int) int {
	left := math.MaxInt
	if q.req.MaxTokens > 0 {
		left = q.req.MaxTokens - len(q.res.GeneratedIDs)
	}
	if !q.canShift {
		left = min(left, q.ctxLen-cached+1)
	}
	if left == math.MaxInt {
		return 0
	}
	return max(left, 1)
}

// argmaxOnly reports whether the next token is the argmax of the raw logits
// whatever they are: greedy sampling with no penalty, bias, grammar or
// ignored EOS. Its owner may then compute only the argmax (on the device)
// and call stepID.
func (q *sequence) argmaxOnly() bool {
	o := q.req.Sampling
	return q.req.MaxTokens != 0 && o.Temperature <= 0 && !o.penalized() && len(o.LogitBias) == 0 &&
		q.con == nil && !q.req.IgnoreEOS && !q.req.Logprobs
}

// topKOnly returns k when the next token is drawn from the k largest raw
// logits alone (sampling with top-k, no penalty, bias, grammar, ignored EOS
// or log-probabilities), else 0. Its owner may then find those k on the
// device and call stepTop.
func (q *sequence) topKOnly() int {
	o := q.req.Sampling
	if q.req.MaxTokens == 0 || o.Temperature <= 0 || o.TopK <= 0 || o.TopK > backend.MaxTopK || o.penalized() ||
		len(o.LogitBias) != 0 || q.con != nil || q.req.IgnoreEOS || q.req.Logprobs {
		return 0
	}
	return o.TopK
}

// stepTop is step from the top-k candidates (topKOnly's k): their ids and
// logits.
func (q *sequence) stepTop(ctx context.Context, ids []int32, logits []float32, cached int) (next int32, done bool, err error) {
	return q.stepID(ctx, q.smp.fromTop(ids, logits), cached)
}

// stepID is step with the next token chosen: id.
func (q *sequence) stepID(ctx context.Context, id int32, cached int) (next int32, done bool, err error) {
	req, tok, res := q.req, q.tok, q.res
	q.smp.accept(id)
	if q.firstAt.IsZero() {
		q.firstAt = time.Now()
		res.Stats.TTFTSeconds = q.firstAt.Sub(q.start).Seconds()
	}
	if !req.IgnoreEOS && tok.IsEOG(id) {
		return 0, true, q.end("eog")
	}
	res.GeneratedIDs = append(res.GeneratedIDs, id)
	piece, stopped := q.text.add(q.stream.Add(id))
	if piece != "" || !stopped {
		t := Token{ID: id, Text: piece}
		if req.Logprobs {
			t.Logprob, t.TopLogprobs = q.lp.of(id), q.lp.top(req.TopLogprobs)
		}
		if err := q.emit(t); err != nil {
			q.finish()
			return 0, true, err
		}
	}
	switch {
	case stopped:
		return 0, true, q.end("stop")
	case q.con != nil && q.con.done():
		return 0, true, q.end("eog")
	case req.MaxTokens > 0 && len(res.GeneratedIDs) >= req.MaxTokens:
		return 0, true, q.end("length")
	case cached >= q.ctxLen && !q.canShift:
		return 0, true, q.end("context")
	}
	if err := ctx.Err(); err != nil {
		res.StopReason = "cancelled"
		q.finish()
		return 0, true, err
	}
	return id, false, nil
}

// end finishes generation for reason, emitting any text still held back.
func (q *sequence) end(reason string) error {
	q.res.StopReason = reason
	if reason != "stop" {
		if rest := q.text.flush(q.stream.Flush()); rest != "" {
			if err := q.emit(Token{ID: -1, Text: rest}); err != nil {
				q.finish()
				return err
			}
		}
	}
	q.finish()
	return nil
}

// finish fills in the result's text and stats.
func (q *sequence) finish() {
	res := q.res
	res.Text = q.text.emitted.String()
	res.Stats.GeneratedTokens = len(res.GeneratedIDs)
	if n := len(res.GeneratedIDs) - 1; n > 0 && !q.firstAt.IsZero() {
		res.Stats.DecodeTokPerS = float64(n) / time.Since(q.firstAt).Seconds()
	}
}
