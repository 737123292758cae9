package engine

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/model"
)

// SessionOptions size a session's KV cache and batches.
type SessionOptions struct {
	// Context is the number of positions the KV cache holds per sequence
	// (0: the model's training context, at most 4096).
	Context int
	// Sequences is how many sequences the cache holds side by side (0: 1).
	Sequences int
	// BatchSize is the most tokens one forward pass takes (0: the
	// backend's default, DefaultBatchSize).
	BatchSize int
	// CacheType is the KV cache's element type: "f16" (the default, as in
	// llama.cpp), "f32", or the block quantizations "q8_0" and "q4_0"
	// (keys and values alike; the model's KV width a multiple of 32),
	// stored Hadamard-rotated when the heads are whole 64s, as llama.cpp
	// stores them (model.RotatesCache).
	CacheType string
	// KeyCacheType and ValueCacheType, where set, are the keys' and the
	// values' types apart (llama.cpp's -ctk and -ctv), each one of
	// CacheType's; the one not set is CacheType. The CPU backend takes any
	// pairing; Vulkan one type for both.
	KeyCacheType, ValueCacheType string
	// ContextShift lets Session.Generate go on when the context is full, as
	// llama.cpp's context shift: the first Keep tokens stay (and the BOS
	// token), half of the rest, the oldest, is dropped, and the tokens after
	// the kept ones are recomputed at their new positions (the kept ones stay
	// in the cache). Without it generation ends with StopReason "context".
	// (A Scheduler shifts with SchedulerOptions.ContextShift.)
	ContextShift bool
	// Keep is how many tokens of the prompt a context shift keeps besides a
	// BOS token, as llama.cpp's --keep (-1: the whole prompt), unless the
	// request gives its own (Request.Keep).
	Keep int
}

// Session is one conversation's state on a model: its KV cache and the tokens
// in it. A Session is used by one goroutine at a time.
type Session struct {
	m       *Model
	opts    SessionOptions
	kv      *model.Cache
	state   *model.State
	buffers []backend.Buffer
	// cpuBuffers are the KV cache of a split model's layers on the CPU.
	cpuBuffers []backend.Buffer
	// history is the tokens of sequence 0 in the cache, in order.
	history []int32
	raw     []byte
	// rows is Forward's result, reused.
	rows [][]float32
	ids  []int32 // forwardArgmax's result
	// forwardTopK's result
	topIDs    []int32
	topLogits []float32
}

// DefaultBatchSize is the most tokens a forward pass takes unless a session
// says otherwise: 256 on the CPU, 512 on a GPU. On the CPU a prompt of 512
// tokens runs faster in two passes of 256 (TinyLlama Q4_0 on 2 cores: 218
// against 193 tokens/s; the activations stay in cache) and half the scratch
// memory; a GPU wants wide batches.
func (m *Model) DefaultBatchSize() int {
	if m.backend == nil || m.backend.Name() == "cpu" {
		return 256
	}
	return 512
}

// NewSession allocates a session's KV cache and scratch on the model's backend.
func (m *Model) NewSession(opts SessionOptions) (*Session, error) {
	if m.backend == nil {
		return nil, ErrModelClosed
	}
	h := m.arch.Hyper()
	if model.IsEncoder(h.Arch) {
		return nil, fmt.Errorf("engine: %s is an embedding model: it cannot generate (use Embed or Rerank)", h.Arch)
	}
	if opts.Context <= 0 {
		opts.Context = min(h.ContextLength, 4096)
	}
	if opts.Sequences <= 0 {
		opts.Sequences = 1
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = m.DefaultBatchSize()
	}
	if opts.CacheType == "" {
		opts.CacheType = "f16"
	}
	types, err := parseCacheTypes(opts, h)
	if err != nil {
		return nil, err
	}
	if rows := float64(opts.Sequences) * float64(opts.Context); rows > maxCacheRows {
		return nil, fmt.Errorf("engine: a KV cache of %s is %.0f positions, more than the %d one cache can index",
			cacheShape(opts), rows, maxCacheRows)
	}
	if opts.BatchSize > opts.Context*opts.Sequences {
		opts.BatchSize = opts.Context * opts.Sequences // as llama.cpp, no batch wider than the cache
	}
	if err := m.checkKVTypes(types); err != nil {
		return nil, err
	}
	if err := m.checkMemory(opts, types); err != nil {
		return nil, err
	}
	if err := m.checkKVBindings(opts, types); err != nil {
		return nil, err
	}
	s := &Session{m: m, opts: opts}
	kv := &model.Cache{Seqs: opts.Sequences, Context: opts.Context}
	for l := range h.Layers {
		for _, c := range []struct {
			dst *[]backend.Tensor
			typ gguf.Type
		}{{&kv.K, types.k}, {&kv.V, types.v}} {
			t := backend.Tensor{Type: c.typ, Rows: opts.Sequences * opts.Context, Cols: h.KVDim()}
			b := m.backend
			if m.place != nil {
				b = m.place.Layers[l]
			}
			buf, err := b.Alloc(t.Bytes())
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("engine: KV cache of %d x %d positions: %w", opts.Sequences, opts.Context, err)
			}
			if b != m.backend {
				s.cpuBuffers = append(s.cpuBuffers, buf)
			} else {
				s.buffers = append(s.buffers, buf)
			}
			t.Buf = buf
			*c.dst = append(*c.dst, t)
		}
		if err := s.addRotation(kv, l, types, h.HeadDim); err != nil {
			s.Close()
			return nil, err
		}
	}
	s.kv = kv
	if err := s.allocRecurrent(h); err != nil {
		s.Close()
		return nil, err
	}
	var state *model.State
	if m.place != nil {
		state, err = model.NewPlacedState(*m.place, opts.BatchSize, opts.Sequences, h.Vocab, h.Activations())
	} else {
		state, err = model.NewState(m.backend, opts.BatchSize, opts.Sequences, h.Vocab, h.Activations())
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	s.state = state
	return s, nil
}

// ErrSessionClosed is returned by a Session's methods after Close.
var ErrSessionClosed = errors.New("engine: session closed")

// Close frees the session's KV cache and scratch. It may be called more
// than once; the session is not usable afterwards.
func (s *Session) Close() {
	if s.m.backend == nil { // the model was closed first: its backend freed everything
		s.state, s.buffers = nil, nil
		return
	}
	if s.state != nil {
		s.state.Free()
		s.state = nil
	}
	for _, buf := range s.buffers {
		s.m.backend.Free(buf)
	}
	s.buffers = nil
	for _, buf := range s.cpuBuffers {
		s.m.cpu.Free(buf)
	}
	s.cpuBuffers = nil
}

// Context is the number of positions per sequence.
func (s *Session) Context() int { return s.opts.Context }

// Forward runs one batch and returns the logits of its output rows, one slice
// of vocabulary size per output, valid until the next call.
func (s *Session) Forward(batch model.Batch) ([][]float32, error) {
	if s.state == nil {
		return nil, ErrSessionClosed
	}
	if s.m.backend == nil {
		return nil, ErrModelClosed
	}
	if err := s.state.SetBatch(batch, s.kv); err != nil {
		return nil, err
	}
	s.forward()
	logits := s.state.Logits.Slice(0, s.state.Outputs())
	if need := int(logits.Bytes()); cap(s.raw) < need {
		s.raw = make([]byte, need)
	}
	s.raw = s.raw[:logits.Bytes()]
	if err := s.state.Backend().Read(logits, s.raw); err != nil {
		return nil, err
	}
	if err := s.state.Err(); err != nil {
		return nil, err
	}
	all := unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(s.raw))), len(s.raw)/4)
	s.rows = s.rows[:0]
	for i := range logits.Rows {
		s.rows = append(s.rows, all[i*logits.Cols:(i+1)*logits.Cols])
	}
	return s.rows, nil
}

// stepShape is what a recorded forward pass depends on besides the contents
// of its inputs: a backend that replays (backend.Replayer) records one per shape.
type stepShape struct {
	state           *model.State
	kv              *model.Cache
	tokens, outputs int
}

// forward runs the model on the batch SetBatch uploaded: replayed where the
// backend records once and replays (not a split model, whose parts copy
// through the host).
func (s *Session) forward() {
	r, ok := s.m.backend.(backend.Replayer)
	if !ok || s.m.place != nil {
		s.m.arch.Forward(s.state, s.kv)
		return
	}
	key := stepShape{s.state, s.kv, s.state.Tokens(), s.state.Outputs()}
	r.Replay(key, func() { s.m.arch.Forward(s.state, s.kv) })
}

// forwardArgmax is Forward returning only the argmax of each output row:
// computed on the device where the backend can (a few bytes read back),
// else from the logits.
func (s *Session) forwardArgmax(batch model.Batch) ([]int32, error) {
	am, ok := s.outputBackend().(backend.ArgMaxer)
	if !ok {
		out, err := s.Forward(batch)
		if err != nil {
			return nil, err
		}
		s.ids = s.ids[:0]
		for _, row := range out {
			s.ids = append(s.ids, argmax(row))
		}
		return s.ids, nil
	}
	logits, err := s.deviceLogits(batch)
	if err != nil {
		return nil, err
	}
	s.ids = append(s.ids[:0], make([]int32, logits.Rows)...)
	if err := am.ArgMax(logits, s.ids); err != nil {
		return nil, err
	}
	return s.ids, nil
}

// outputBackend is the backend the logits live on: where the output layer
// runs, the CPU in a split model.
func (s *Session) outputBackend() backend.Backend {
	if s.m.place != nil {
		return s.m.place.Output
	}
	return s.m.backend
}

// deviceLogits runs batch and returns its output rows' logits where they
// are, read back by nothing.
func (s *Session) deviceLogits(batch model.Batch) (backend.Tensor, error) {
	if s.state == nil {
		return backend.Tensor{}, ErrSessionClosed
	}
	if s.m.backend == nil {
		return backend.Tensor{}, ErrModelClosed
	}
	if err := s.state.SetBatch(batch, s.kv); err != nil {
		return backend.Tensor{}, err
	}
	s.forward()
	return s.state.Logits.Slice(0, s.state.Outputs()), nil
}

// canTopK reports whether forwardTopK can find k candidates on the device:
// the backend of the output layer can, and k is below the vocabulary (else
// the sampler takes every logit).
func (s *Session) canTopK(k int) bool {
	_, ok := s.outputBackend().(backend.TopKer)
	return ok && s.state != nil && k < s.state.Logits.Cols
}

// forwardTopK is Forward returning only the k first logits of its one
// output row in the sampler's order, and their ids, found on the device
// (canTopK): 8k bytes read back instead of the row.
func (s *Session) forwardTopK(batch model.Batch, k int) ([]int32, []float32, error) {
	tk, ok := s.outputBackend().(backend.TopKer)
	if !ok {
		return nil, nil, fmt.Errorf("engine: the output layer's backend has no top-k")
	}
	logits, err := s.deviceLogits(batch)
	if err != nil {
		return nil, nil, err
	}
	if logits.Rows != 1 {
		return nil, nil, fmt.Errorf("engine: top-k of %d output rows", logits.Rows)
	}
	s.topIDs = append(s.topIDs[:0], make([]int32, k)...)
	s.topLogits = append(s.topLogits[:0], make([]float32, k)...)
	if err := tk.TopK(logits, k, s.topIDs, s.topLogits); err != nil {
		return nil, nil, err
	}
	return s.topIDs, s.topLogits, nil
}

// prefill puts tokens at positions start.. of sequence 0 into the cache, in
// batches of at most BatchSize, and returns the logits after the last one.
func (s *Session) prefill(tokens []int32, start int) ([]float32, error) {
	var last []float32
	for lo := 0; lo < len(tokens); lo += s.opts.BatchSize {
		hi := min(lo+s.opts.BatchSize, len(tokens))
		b := model.Batch{Tokens: tokens[lo:hi], Pos: make([]int32, hi-lo), Seq: make([]int32, hi-lo), Outputs: []int32{int32(hi - lo - 1)}}
		for i := range b.Pos {
			b.Pos[i] = int32(start + lo + i)
		}
		out, err := s.Forward(b)
		if err != nil {
			return nil, err
		}
		last = out[0]
	}
	return last, nil
}
