package model

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Pooling is how an embedding model turns an input's final hidden states into
// one vector: llama.cpp's llama_pooling_type, as *.pooling_type stores it.
type Pooling int

const (
	PoolNone Pooling = iota // per-token states (not pooled; not supported here)
	PoolMean                // mean of every token's state, specials included
	PoolCLS                 // the first token's ([CLS])
	PoolLast                // the last token's
	PoolRank                // the first token's through the classifier head: one score
)

func (p Pooling) String() string {
	switch p {
	case PoolNone:
		return "none"
	case PoolMean:
		return "mean"
	case PoolCLS:
		return "cls"
	case PoolLast:
		return "last"
	case PoolRank:
		return "rank"
	}
	return fmt.Sprintf("pooling(%d)", int(p))
}

// PoolingOf reads the file's *.pooling_type. Without the key an encoder
// (bert, nomic-bert) pools by mean and a decoder by its last token.
func PoolingOf(f *gguf.File) (Pooling, error) {
	arch, err := Architecture(f)
	if err != nil {
		return 0, err
	}
	def := PoolLast
	if isEncoder(arch) {
		def = PoolMean
	}
	p, err := meta{f}.uint(arch+".pooling_type", int(def), false)
	if err != nil {
		return 0, err
	}
	if p < 0 || p > int(PoolRank) {
		return 0, fmt.Errorf("model: key %q: pooling type %d is unknown (0 none, 1 mean, 2 cls, 3 last, 4 rank)", arch+".pooling_type", p)
	}
	return Pooling(p), nil
}

func isEncoder(arch string) bool { return arch == "bert" || arch == "nomic-bert" }

// IsEncoder reports whether the architecture is an encoder only (no logits,
// no generation).
func IsEncoder(arch string) bool { return isEncoder(arch) }

// Embedder is a model that computes the final hidden states of a batch of
// whole inputs, each its own sequence: encoders attend both ways, decoders
// causally. Hidden returns the tensor of the batch's states (tokens x Dim),
// after the final norm where the model has one.
type Embedder interface {
	Hyper() *Hyper
	Hidden(s *EmbedState) backend.Tensor
}

// Ranker is an Embedder with a classification head (a cross-encoder):
// Classify maps the pooled states (seqs x Dim) to one score per row in
// s's "out.score".
type Ranker interface {
	Embedder
	HasClassifier() bool
	Classify(s *EmbedState, pooled backend.Tensor) backend.Tensor
}

// EmbedState is the scratch of embedding forward passes: a State for the
// batch's inputs and activations, one K and one V tensor that every layer
// reuses (a pass holds whole inputs, so no layer's keys outlive it), and the
// span of each token: the last position its sequence's tokens attend to
// (the sequence's last token, in an encoder).
type EmbedState struct {
	*State
	kv       *Cache
	span     backend.Tensor
	cacheCap int
	spanVals []int32
	raw      []byte
}

// NewEmbedState allocates for passes of up to maxTokens tokens in up to
// maxSeqs inputs, whose count times the longest input's length is at most
// cacheRows. cacheType is the attention cache's element type (F16 or F32).
func NewEmbedState(b backend.Backend, h *Hyper, maxTokens, maxSeqs, cacheRows int, cacheType gguf.Type) (*EmbedState, error) {
	widths := h.Activations()
	widths["out.score"] = 1
	st, err := NewState(b, maxTokens, maxSeqs, 1, widths)
	if err != nil {
		return nil, err
	}
	s := &EmbedState{State: st, cacheCap: cacheRows}
	alloc := func(typ gguf.Type, rows, cols int) (backend.Tensor, error) {
		t := backend.Tensor{Type: typ, Rows: rows, Cols: cols}
		buf, err := b.Alloc(t.Bytes())
		if err != nil {
			return t, err
		}
		st.buffers = append(st.buffers, buf)
		t.Buf = buf
		return t, nil
	}
	if s.span, err = alloc(gguf.TypeI32, 1, maxTokens); err != nil {
		return nil, st.freeAfter(err)
	}
	k, err := alloc(cacheType, cacheRows, h.KVDim())
	if err != nil {
		return nil, st.freeAfter(err)
	}
	v, err := alloc(cacheType, cacheRows, h.KVDim())
	if err != nil {
		return nil, st.freeAfter(err)
	}
	s.kv = &Cache{}
	for range h.Layers {
		s.kv.K = append(s.kv.K, k)
		s.kv.V = append(s.kv.V, v)
	}
	return s, nil
}

// Fits reports whether a pass of these input lengths fits the state.
func (s *EmbedState) Fits(seqs, tokens, longest int) bool {
	return seqs <= s.MaxOutputs && tokens <= s.MaxBatch && seqs*longest <= s.cacheCap
}

// Cache is the attention cache of the current pass (Context: its longest input).
func (s *EmbedState) Cache() *Cache { return s.kv }

// Span is the I32 1 x n tensor of each token's last attended position.
func (s *EmbedState) Span() backend.Tensor { return s.span.Head(s.n) }

// Embed runs inputs (token ids, each a whole input) through m in one pass and
// pools each as p says: one vector of Dim values per input, or for PoolRank
// one score per input. The result of an input does not depend on the others:
// every op keeps each row's arithmetic the same whatever the batch holds.
func (s *EmbedState) Embed(m Embedder, p Pooling, inputs [][]int32) ([][]float32, error) {
	if len(inputs) == 0 {
		return nil, nil
	}
	longest, total := 0, 0
	for i, in := range inputs {
		if len(in) == 0 {
			return nil, fmt.Errorf("model: input %d has no tokens", i)
		}
		longest = max(longest, len(in))
		total += len(in)
	}
	if !s.Fits(len(inputs), total, longest) {
		return nil, fmt.Errorf("model: %d inputs of %d tokens (longest %d) do not fit one pass (%d inputs, %d tokens, %d cache rows)",
			len(inputs), total, longest, s.MaxOutputs, s.MaxBatch, s.cacheCap)
	}
	batch := Batch{Tokens: make([]int32, 0, total), Pos: make([]int32, 0, total), Seq: make([]int32, 0, total)}
	s.spanVals = s.spanVals[:0]
	for q, in := range inputs {
		pick := len(batch.Tokens) // CLS, RANK, MEAN: the first token
		if p == PoolLast {
			pick += len(in) - 1
		}
		batch.Outputs = append(batch.Outputs, int32(pick))
		for t, id := range in {
			batch.Tokens = append(batch.Tokens, id)
			batch.Pos = append(batch.Pos, int32(t))
			batch.Seq = append(batch.Seq, int32(q))
			s.spanVals = append(s.spanVals, int32(len(in)-1))
		}
	}
	s.kv.Seqs, s.kv.Context = len(inputs), longest
	if err := s.SetBatch(batch, s.kv); err != nil {
		return nil, err
	}
	if err := s.b.Write(s.span.Head(total), s.int32Bytes(s.spanVals)); err != nil {
		return nil, err
	}
	x := m.Hidden(s)
	switch p {
	case PoolMean:
		states, err := s.read(x)
		if err != nil {
			return nil, err
		}
		dim := x.Cols
		out := make([][]float32, len(inputs))
		row := 0
		for i, in := range inputs {
			sum := make([]float64, dim)
			for t := range in {
				for j, v := range states[(row+t)*dim : (row+t+1)*dim] {
					sum[j] += float64(v)
				}
			}
			row += len(in)
			out[i] = make([]float32, dim)
			for j := range sum {
				out[i][j] = float32(sum[j] / float64(len(in)))
			}
		}
		return out, nil
	case PoolCLS, PoolLast, PoolRank:
		pooled := s.act("out.x")
		s.b.GetRows(pooled, x, s.outRows.Head(s.outputs))
		if p == PoolRank {
			r, ok := m.(Ranker)
			if !ok || !r.HasClassifier() {
				return nil, fmt.Errorf("model: pooling rank needs a classification head (cls.output.weight)")
			}
			pooled = r.Classify(s, pooled)
		}
		vals, err := s.read(pooled)
		if err != nil {
			return nil, err
		}
		out := make([][]float32, len(inputs))
		for i := range out {
			out[i] = append([]float32(nil), vals[i*pooled.Cols:(i+1)*pooled.Cols]...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("model: pooling %v is not supported for embeddings", p)
}

// read copies an F32 tensor to the host; the slice is valid until the next read.
func (s *EmbedState) read(t backend.Tensor) ([]float32, error) {
	if need := int(t.Bytes()); cap(s.raw) < need {
		s.raw = make([]byte, need)
	}
	s.raw = s.raw[:t.Bytes()]
	if err := s.b.Read(t, s.raw); err != nil {
		return nil, err
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(s.raw))), len(s.raw)/4), nil
}

// Normalize scales v to unit Euclidean length in place (llama.cpp's
// common_embd_normalize with L2, the norm summed in float64); a zero vector
// stays zero.
func Normalize(v []float32) {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 {
		return
	}
	norm := 1 / math.Sqrt(sum)
	for i := range v {
		v[i] = float32(float64(v[i]) * norm)
	}
}
