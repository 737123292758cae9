package model

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/backend/cpu"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Model is a loaded architecture: its weights on a backend and its forward pass.
type Model interface {
	Hyper() *Hyper
	// Forward runs the batch held in s through the model, reading and extending
	// the KV cache, and leaves the logits of s's output rows in s.Logits.
	Forward(s *State, kv *Cache)
}

// Cache is the KV cache: per layer, keys and values for Seqs sequences of Context
// positions each; row seq*Context+pos holds that position's keys (or values).
type Cache struct {
	K, V    []backend.Tensor
	Seqs    int
	Context int
	// Conv and Rec are the recurrent state of hybrid models' Gated DeltaNet
	// layers, one row per sequence (zero Tensors on other layers): the
	// convolution's last inputs and the delta-rule state (see deltanet.go).
	Conv, Rec []backend.Tensor
	// Rot, per layer, is the rotation matrix (NewRotation) of a layer whose
	// caches are stored rotated (RotatesCache); a zero Tensor or a short
	// slice means none.
	Rot []backend.Tensor
}

// loader builds one architecture from a file.
type loader func(f *gguf.File, b backend.Backend, progress Progress) (Model, []backend.Buffer, error)

var architectures = map[string]loader{
	"llama":   loadLlama,
	"qwen2":   loadQwen2,
	"qwen3":   loadQwen3,
	"gemma2":  loadGemma2,
	"gemma3":  loadGemma3,
	"phi3":    loadPhi3,
	"smollm3": loadSmolLM3,
	"olmo2":   loadOlmo2,
	"gpt2":    loadGPT2,
	// Mixtures of experts (see moe.go; Mixtral is "llama" with experts).
	"qwen3moe": loadQwen3MoE,
	"gpt-oss":  loadGPTOSS,
	// Hybrid linear attention (see deltanet.go and qwen35.go).
	"qwen35":    loadQwen35,
	"qwen35moe": loadQwen35MoE,
	"qwen3next": loadQwen3Next,
	// Encoders (embeddings and reranking; see bert.go).
	"bert":       loadBert,
	"nomic-bert": loadNomicBert,
}

// Architectures lists the supported values of general.architecture.
func Architectures() []string {
	names := make([]string, 0, len(architectures))
	for name := range architectures {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Architecture reads general.architecture.
func Architecture(f *gguf.File) (string, error) {
	arch, err := meta{f}.str("general.architecture", "")
	if err != nil {
		return "", err
	}
	if arch == "" {
		return "", fmt.Errorf("model: missing key %q", "general.architecture")
	}
	return arch, nil
}

// Load binds the weights of the architecture f declares onto b. The returned
// buffers hold the weights (none when b computes on the mapped file in place);
// free them with the model.
func Load(f *gguf.File, b backend.Backend, progress Progress) (Model, []backend.Buffer, error) {
	return LoadContext(context.Background(), f, b, progress)
}

// cancelled is what LoadContext's progress panics with to stop binding.
type cancelled struct{ err error }

// LoadContext is Load that stops, between tensors, when ctx is done, and
// returns ctx's error. The buffers bound so far are not returned: the caller
// closes the backend.
func LoadContext(ctx context.Context, f *gguf.File, b backend.Backend, progress Progress) (m Model, bufs []backend.Buffer, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if ctx.Done() != nil {
		inner := progress
		progress = func(done, total int64) {
			if err := ctx.Err(); err != nil {
				panic(cancelled{err})
			}
			if inner != nil {
				inner(done, total)
			}
		}
		defer func() {
			if r := recover(); r != nil {
				c, ok := r.(cancelled)
				if !ok {
					panic(r)
				}
				m, bufs, err = nil, nil, c.err
			}
		}()
	}
	arch, err := Architecture(f)
	if err != nil {
		return nil, nil, err
	}
	load, ok := architectures[arch]
	if !ok {
		return nil, nil, fmt.Errorf("model: architecture %q is not supported (supported: %s)", arch, strings.Join(Architectures(), ", "))
	}
	return load(f, b, progress)
}

// vocabSize is the number of tokens in the file's vocabulary.
func vocabSize(f *gguf.File, arch string) (int, error) {
	if v, ok := f.Lookup("tokenizer.ggml.tokens"); ok {
		return v.ArrayLen(), nil
	}
	n, err := meta{f}.uint(arch+".vocab_size", 0, true)
	if err != nil {
		return 0, fmt.Errorf("model: no vocabulary: %w", err)
	}
	return n, nil
}

// State is the scratch of a forward pass: the batch's inputs and the activations,
// allocated once for at most MaxBatch tokens and MaxOutputs logit rows.
type State struct {
	MaxBatch, MaxOutputs int

	n, outputs int // this batch's sizes
	// Inputs, one value per token: token id, position, sequence, and the
	// cache row (seq*Context+pos) its keys and values go to.
	tokens, pos, seq, cacheRows backend.Tensor
	outRows                     backend.Tensor // which rows get logits
	acts                        map[string]backend.Tensor
	// Logits are the output rows' logits after Forward (outputs x vocab).
	Logits backend.Tensor

	b          backend.Backend
	buffers    []backend.Buffer
	staging    []byte
	rowScratch []int32 // SetBatch's cache rows, reused

	// A model split across backends (LoadPlaced) has a state on each: this
	// one on the output's backend, parts on the others. xfer stages the
	// hidden state between them; err is the first copy's error.
	parts []*State
	xfer  []byte
	err   error
}

// NewPlacedState is NewState for a model split as p says: the inputs and
// activations on each of p's backends, the logits on the output's.
func NewPlacedState(p Placement, maxBatch, maxOutputs, vocab int, widths map[string]int) (*State, error) {
	bs := p.Backends()
	s, err := NewState(bs[0], maxBatch, maxOutputs, vocab, widths)
	if err != nil {
		return nil, err
	}
	for _, b := range bs[1:] {
		part, err := NewState(b, maxBatch, maxOutputs, 1, widths)
		if err != nil {
			s.Free()
			return nil, err
		}
		s.parts = append(s.parts, part)
	}
	return s, nil
}

// on is the state on backend b (s itself unless the model is split).
func (s *State) on(b backend.Backend) *State {
	if b == s.b {
		return s
	}
	for _, p := range s.parts {
		if p.b == b {
			return p
		}
	}
	panic("model: no state on backend " + b.Name())
}

// Backend is the backend that holds the logits.
func (s *State) Backend() backend.Backend { return s.b }

// Err is the error, if any, of copying activations between backends during
// the last Forward of a split model; the logits are garbage when it is set.
func (s *State) Err() error { return s.err }

// NewState allocates the scratch for batches of up to maxBatch tokens with up to
// maxOutputs logit rows. widths names each activation tensor and its width.
func NewState(b backend.Backend, maxBatch, maxOutputs, vocab int, widths map[string]int) (*State, error) {
	s := &State{MaxBatch: maxBatch, MaxOutputs: maxOutputs, b: b, acts: map[string]backend.Tensor{}}
	alloc := func(typ gguf.Type, rows, cols int) (backend.Tensor, error) {
		t := backend.Tensor{Type: typ, Rows: rows, Cols: cols}
		buf, err := b.Alloc(t.Bytes())
		if err != nil {
			return t, err
		}
		s.buffers = append(s.buffers, buf)
		t.Buf = buf
		return t, nil
	}
	var err error
	for _, t := range []*backend.Tensor{&s.tokens, &s.pos, &s.seq, &s.cacheRows} {
		if *t, err = alloc(gguf.TypeI32, 1, maxBatch); err != nil {
			return nil, s.freeAfter(err)
		}
	}
	if s.outRows, err = alloc(gguf.TypeI32, 1, maxOutputs); err != nil {
		return nil, s.freeAfter(err)
	}
	if s.Logits, err = alloc(gguf.TypeF32, maxOutputs, vocab); err != nil {
		return nil, s.freeAfter(err)
	}
	names := make([]string, 0, len(widths))
	for name := range widths {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		rows := maxBatch
		if strings.HasPrefix(name, "out.") {
			rows = maxOutputs
		}
		typ := gguf.TypeF32
		if strings.HasPrefix(name, "i32.") { // index activations (chosen experts)
			typ = gguf.TypeI32
		}
		if s.acts[name], err = alloc(typ, rows, widths[name]); err != nil {
			return nil, s.freeAfter(err)
		}
	}
	return s, nil
}

func (s *State) freeAfter(err error) error {
	s.Free()
	return fmt.Errorf("model: allocating activations: %w", err)
}

// Free releases the state's buffers.
func (s *State) Free() {
	for _, p := range s.parts {
		p.Free()
	}
	s.parts = nil
	for _, buf := range s.buffers {
		s.b.Free(buf)
	}
	s.buffers = nil
}

// Batch is what one forward pass computes: tokens at positions of sequences,
// and the rows whose logits are wanted, in the order they are wanted.
type Batch struct {
	Tokens, Pos, Seq []int32
	Outputs          []int32
}

// SetBatch uploads a batch's inputs; the cache gives each token's row.
func (s *State) SetBatch(batch Batch, kv *Cache) error {
	n := len(batch.Tokens)
	if n == 0 || n > s.MaxBatch || len(batch.Pos) != n || len(batch.Seq) != n {
		return fmt.Errorf("model: batch of %d tokens (%d positions, %d sequences), at most %d", n, len(batch.Pos), len(batch.Seq), s.MaxBatch)
	}
	if len(batch.Outputs) == 0 || len(batch.Outputs) > s.MaxOutputs {
		return fmt.Errorf("model: %d output rows, want 1 to %d", len(batch.Outputs), s.MaxOutputs)
	}
	rows := s.rowScratch[:0]
	for i := range n {
		p, q := batch.Pos[i], batch.Seq[i]
		if p < 0 || int(p) >= kv.Context || q < 0 || int(q) >= kv.Seqs {
			return fmt.Errorf("model: token %d at position %d of sequence %d is outside the KV cache (%d sequences of %d)", i, p, q, kv.Seqs, kv.Context)
		}
		rows = append(rows, q*int32(kv.Context)+p)
	}
	s.rowScratch = rows
	for _, o := range batch.Outputs {
		if o < 0 || int(o) >= n {
			return fmt.Errorf("model: output row %d outside the batch of %d", o, n)
		}
	}
	s.n, s.outputs, s.err = n, len(batch.Outputs), nil
	for _, p := range s.parts {
		p.n, p.outputs = n, len(batch.Outputs)
		if err := p.upload(batch, rows); err != nil {
			return err
		}
	}
	return s.upload(batch, rows)
}

// upload writes a batch's inputs to the state's backend.
func (s *State) upload(batch Batch, rows []int32) error {
	for _, in := range []struct {
		t    backend.Tensor
		vals []int32
	}{{s.tokens, batch.Tokens}, {s.pos, batch.Pos}, {s.seq, batch.Seq}, {s.cacheRows, rows}, {s.outRows, batch.Outputs}} {
		if err := s.b.Write(in.t.Head(len(in.vals)), s.int32Bytes(in.vals)); err != nil {
			return err
		}
	}
	return nil
}

func (s *State) int32Bytes(v []int32) []byte {
	s.staging = s.staging[:0]
	for _, x := range v {
		s.staging = append(s.staging, byte(x), byte(x>>8), byte(x>>16), byte(x>>24))
	}
	return s.staging
}

// Tokens is the number of tokens in the current batch.
func (s *State) Tokens() int { return s.n }

// Outputs is the number of logit rows the current batch asked for.
func (s *State) Outputs() int { return s.outputs }

// act is the activation tensor name, cut to this batch's rows.
func (s *State) act(name string) backend.Tensor {
	t, ok := s.acts[name]
	if !ok {
		panic("model: no activation " + name)
	}
	if strings.HasPrefix(name, "out.") {
		return t.Slice(0, s.outputs)
	}
	return t.Slice(0, s.n)
}

// Describe reads a model's hyperparameters and checks its weights against them,
// without loading anything: the weights stay in the mapped file.
func Describe(f *gguf.File) (*Hyper, error) {
	b := cpu.New(1)
	defer b.Close()
	m, _, err := Load(f, b, nil)
	if err != nil {
		return nil, err
	}
	return m.Hyper(), nil
}
