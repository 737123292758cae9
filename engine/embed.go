package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/model"
)

// Embeddings and reranking.
//
//	vecs, err := m.Embed(ctx, []string{"first text", "second text"})   // unit vectors
//	scores, err := m.Rerank(ctx, "query", []string{"doc 1", "doc 2"})  // one score per doc
//
// Both are safe for concurrent use: the inputs of concurrent calls are
// gathered into shared forward passes, each input its own sequence with its
// own attention span, and an input's result does not depend, bit for bit, on
// what else shares its pass. Embedding calls must not run at the same time as
// generation on the same Model (a Session or Scheduler): they share its backend.

// EmbedOptions change how EmbedTokens pools and checks its inputs.
type EmbedOptions struct {
	// Raw leaves the pooled vectors as the model computes them (llama.cpp's
	// llama_get_embeddings_seq); otherwise they are scaled to unit length, as
	// llama-server's /v1/embeddings returns them.
	Raw bool
	// Truncate cuts an input longer than the context to fit, keeping its
	// last token (the [SEP] or end-of-text the model expects last); otherwise
	// such an input is an *InputTooLongError.
	Truncate bool
}

// InputTooLongError is an input with more tokens than the embedding context.
type InputTooLongError struct {
	Index, Tokens, Context int
}

func (e *InputTooLongError) Error() string {
	return fmt.Sprintf("engine: input %d has %d tokens, more than the context of %d", e.Index, e.Tokens, e.Context)
}

// Pooling is how the model pools an input's hidden states (its *.pooling_type).
func (m *Model) Pooling() (model.Pooling, error) { return model.PoolingOf(m.file) }

// IsEmbedding reports whether the model is an embedding or reranking model:
// an encoder, or a file that names a pooling type.
func (m *Model) IsEmbedding() bool {
	if model.IsEncoder(m.arch.Hyper().Arch) {
		return true
	}
	_, ok := m.file.Lookup(m.arch.Hyper().Arch + ".pooling_type")
	return ok
}

// EmbedContext is the most tokens one embedding input may have: the model's
// training context, at most 8192.
func (m *Model) EmbedContext() int { return min(m.arch.Hyper().ContextLength, 8192) }

// EmbedTokenize is the token ids of text as an embedding input, as llama.cpp
// tokenizes it with its special tokens: [CLS] text [SEP] for WordPiece
// models, else BOS and EOS as the vocabulary asks (Qwen3-Embedding: text
// <|endoftext|>).
func (m *Model) EmbedTokenize(text string) []int32 {
	v := m.tok.Vocab()
	if v.Model == "bert" {
		ids := []int32{v.BOS}
		ids = append(ids, m.tok.Encode(text, false, false)...)
		return append(ids, m.sepToken())
	}
	return m.tok.Encode(text, true, false)
}

// RerankTokenize is a query–document pair as llama-server's
// format_prompt_rerank lays it out: BOS query EOS SEP document EOS, each
// special where the vocabulary adds it (bge-reranker: <s> q </s></s> d </s>).
func (m *Model) RerankTokenize(query, doc string) []int32 {
	v := m.tok.Vocab()
	var ids []int32
	if v.AddBOS && v.BOS >= 0 {
		ids = append(ids, v.BOS)
	}
	ids = append(ids, m.tok.Encode(query, false, false)...)
	if v.AddEOS && v.EOS >= 0 {
		ids = append(ids, v.EOS)
	}
	if m.addSep() {
		ids = append(ids, m.sepToken())
	}
	ids = append(ids, m.tok.Encode(doc, false, false)...)
	if v.AddEOS && v.EOS >= 0 {
		ids = append(ids, v.EOS)
	}
	return ids
}

// sepToken is tokenizer.ggml.seperator_token_id, else EOS.
func (m *Model) sepToken() int32 {
	if val, ok := m.file.Lookup("tokenizer.ggml.seperator_token_id"); ok {
		if id, err := val.Uint(); err == nil && int(id) < m.tok.VocabSize() {
			return int32(id)
		}
	}
	return m.tok.EOS()
}

// addSep is tokenizer.ggml.add_sep_token (false when absent).
func (m *Model) addSep() bool {
	if val, ok := m.file.Lookup("tokenizer.ggml.add_sep_token"); ok {
		b, err := val.Bool()
		return err == nil && b
	}
	return false
}

// Embed returns one unit-length vector per text.
func (m *Model) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	inputs := make([][]int32, len(texts))
	for i, t := range texts {
		inputs[i] = m.EmbedTokenize(t)
	}
	return m.EmbedTokens(ctx, inputs, EmbedOptions{})
}

// Rerank returns a relevance score per document: the classification head's
// raw output on the query–document pair (llama-server's relevance_score;
// 1/(1+exp(-score)) is a probability). The model's pooling must be rank.
func (m *Model) Rerank(ctx context.Context, query string, docs []string) ([]float32, error) {
	p, err := m.Pooling()
	if err != nil {
		return nil, err
	}
	if p != model.PoolRank {
		return nil, fmt.Errorf("engine: the model pools by %v, not rank: it is not a reranker", p)
	}
	inputs := make([][]int32, len(docs))
	for i, d := range docs {
		inputs[i] = m.RerankTokenize(query, d)
	}
	out, err := m.EmbedTokens(ctx, inputs, EmbedOptions{Raw: true})
	if err != nil {
		return nil, err
	}
	scores := make([]float32, len(out))
	for i, o := range out {
		scores[i] = o[0]
	}
	return scores, nil
}

// EmbedTokens pools each input (token ids with their special tokens) into a
// vector as the model's pooling type says; with pooling rank, a vector of one
// value, the score.
func (m *Model) EmbedTokens(ctx context.Context, inputs [][]int32, o EmbedOptions) ([][]float32, error) {
	r, err := m.embedder()
	if err != nil {
		return nil, err
	}
	limit := m.EmbedContext()
	ins := make([][]int32, len(inputs))
	for i, in := range inputs {
		if len(in) == 0 {
			return nil, fmt.Errorf("engine: input %d has no tokens", i)
		}
		if len(in) > limit {
			if !o.Truncate {
				return nil, &InputTooLongError{Index: i, Tokens: len(in), Context: limit}
			}
			in = append(append([]int32(nil), in[:limit-1]...), in[len(in)-1])
		}
		for _, id := range in {
			if id < 0 || int(id) >= m.tok.VocabSize() {
				return nil, fmt.Errorf("engine: input %d: token %d is outside the vocabulary (%d tokens)", i, id, m.tok.VocabSize())
			}
		}
		ins[i] = in
	}
	out, err := r.run(ctx, ins)
	if err != nil {
		return nil, err
	}
	if !o.Raw && r.pooling != model.PoolRank {
		for _, v := range out {
			model.Normalize(v)
		}
	}
	return out, nil
}

// embedRunner gathers the inputs of concurrent calls into forward passes.
// The first caller to find it idle runs passes until nothing is pending;
// the others wait for their results.
type embedRunner struct {
	m       *Model
	arch    model.Embedder
	pooling model.Pooling
	state   *model.EmbedState

	mu      sync.Mutex
	pending []*embedJob
	running bool
}

type embedJob struct {
	inputs [][]int32
	out    [][]float32
	err    error
	done   chan struct{}
}

// embedder makes the model's runner on first use.
func (m *Model) embedder() (*embedRunner, error) {
	m.embedOnce.Do(func() { m.embedRun, m.embedErr = m.newEmbedRunner() })
	return m.embedRun, m.embedErr
}

func (m *Model) newEmbedRunner() (*embedRunner, error) {
	if m.place != nil {
		return nil, fmt.Errorf("engine: embeddings from a model split between the GPU and the CPU are not supported yet: load it with all layers on one backend")
	}
	arch, ok := m.arch.(model.Embedder)
	if !ok {
		return nil, fmt.Errorf("engine: %s models cannot compute embeddings", m.arch.Hyper().Arch)
	}
	p, err := m.Pooling()
	if err != nil {
		return nil, err
	}
	if p == model.PoolNone {
		return nil, fmt.Errorf("engine: the model's pooling type is none: per-token embeddings are not supported")
	}
	ctxLen := m.EmbedContext()
	maxTokens := max(ctxLen, 2048)
	state, err := model.NewEmbedState(m.backend, m.arch.Hyper(), maxTokens, 256, 2*maxTokens, gguf.TypeF16)
	if err != nil {
		return nil, err
	}
	m.embedFree = state.Free
	return &embedRunner{m: m, arch: arch, pooling: p, state: state}, nil
}

func (r *embedRunner) run(ctx context.Context, inputs [][]int32) ([][]float32, error) {
	if len(inputs) == 0 {
		return [][]float32{}, nil
	}
	j := &embedJob{inputs: inputs, done: make(chan struct{})}
	r.mu.Lock()
	r.pending = append(r.pending, j)
	lead := !r.running
	r.running = true
	r.mu.Unlock()
	if lead {
		r.drain()
	}
	select {
	case <-j.done:
		return j.out, j.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// drain runs passes until no job is pending.
func (r *embedRunner) drain() {
	for {
		r.mu.Lock()
		jobs := r.pending
		r.pending = nil
		if len(jobs) == 0 {
			r.running = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		r.runJobs(jobs)
	}
}

// runJobs packs the jobs' inputs, in order, into as few passes as fit.
func (r *embedRunner) runJobs(jobs []*embedJob) {
	type item struct {
		job *embedJob
		i   int
	}
	var items []item
	for _, j := range jobs {
		j.out = make([][]float32, len(j.inputs))
		for i := range j.inputs {
			items = append(items, item{j, i})
		}
	}
	for lo := 0; lo < len(items); {
		hi, tokens, longest := lo, 0, 0
		for hi < len(items) {
			n := len(items[hi].job.inputs[items[hi].i])
			if hi > lo && !r.state.Fits(hi-lo+1, tokens+n, max(longest, n)) {
				break
			}
			tokens += n
			longest = max(longest, n)
			hi++
		}
		batch := make([][]int32, 0, hi-lo)
		for _, it := range items[lo:hi] {
			batch = append(batch, it.job.inputs[it.i])
		}
		out, err := r.state.Embed(r.arch, r.pooling, batch)
		for k, it := range items[lo:hi] {
			if err != nil {
				it.job.err = err
			} else {
				it.job.out[it.i] = out[k]
			}
		}
		lo = hi
	}
	for _, j := range jobs {
		if j.err != nil {
			j.out = nil
		}
		close(j.done)
	}
}
