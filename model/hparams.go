// Package model holds the architectures: each reads its hyperparameters and binds
// its weights from a GGUF file, and writes its forward pass over backend ops.
package model

import (
	"fmt"
	"math"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Hyper is an architecture's hyperparameters as read from GGUF metadata.
type Hyper struct {
	Arch          string
	Dim           int // embedding_length
	Layers        int // block_count
	Heads         int // attention.head_count
	KVHeads       int // attention.head_count_kv
	HeadDim       int // attention.key_length, or Dim/Heads
	FFN           int // feed_forward_length
	Vocab         int
	ContextLength int // context the model was trained for
	NormEps       float32
	RoPE          backend.RoPE
}

// QDim is the width of the query projection; KVDim that of keys and values.
func (h *Hyper) QDim() int  { return h.Heads * h.HeadDim }
func (h *Hyper) KVDim() int { return h.KVHeads * h.HeadDim }

// meta reads typed metadata keys of one file, naming the key in every error.
type meta struct{ f *gguf.File }

func (m meta) uint(key string, def int, required bool) (int, error) {
	v, ok := m.f.Lookup(key)
	if !ok {
		if required {
			return 0, fmt.Errorf("model: missing key %q", key)
		}
		return def, nil
	}
	u, err := v.Uint()
	if err != nil {
		return 0, fmt.Errorf("model: %w", err)
	}
	if u > math.MaxInt32 {
		return 0, fmt.Errorf("model: key %q: %d is too large", key, u)
	}
	return int(u), nil
}

func (m meta) float(key string, def float32) (float32, error) {
	v, ok := m.f.Lookup(key)
	if !ok {
		return def, nil
	}
	x, err := v.Float()
	if err != nil {
		return 0, fmt.Errorf("model: %w", err)
	}
	return float32(x), nil
}

func (m meta) str(key, def string) (string, error) {
	v, ok := m.f.Lookup(key)
	if !ok {
		return def, nil
	}
	s, err := v.Str()
	if err != nil {
		return "", fmt.Errorf("model: %w", err)
	}
	return s, nil
}

// readHyper reads the keys every transformer here shares, with llama.cpp's defaults.
func readHyper(f *gguf.File, arch string) (*Hyper, error) {
	m := meta{f}
	h := &Hyper{Arch: arch}
	var err error
	key := func(k string) string { return arch + "." + k }
	if h.Dim, err = m.uint(key("embedding_length"), 0, true); err != nil {
		return nil, err
	}
	if h.Layers, err = m.uint(key("block_count"), 0, true); err != nil {
		return nil, err
	}
	if h.Heads, err = m.uint(key("attention.head_count"), 0, true); err != nil {
		return nil, err
	}
	if h.KVHeads, err = m.uint(key("attention.head_count_kv"), h.Heads, false); err != nil {
		return nil, err
	}
	if h.FFN, err = m.uint(key("feed_forward_length"), 0, true); err != nil {
		return nil, err
	}
	if h.ContextLength, err = m.uint(key("context_length"), 2048, false); err != nil {
		return nil, err
	}
	if h.Heads == 0 || h.KVHeads == 0 || h.Heads%h.KVHeads != 0 {
		return nil, fmt.Errorf("model: %d attention heads do not divide into %d KV heads", h.Heads, h.KVHeads)
	}
	if h.Dim == 0 || h.Layers == 0 || h.FFN == 0 {
		return nil, fmt.Errorf("model: embedding_length %d, block_count %d, feed_forward_length %d: none may be 0", h.Dim, h.Layers, h.FFN)
	}
	defHead := h.Dim / h.Heads
	if h.HeadDim, err = m.uint(key("attention.key_length"), defHead, false); err != nil {
		return nil, err
	}
	if h.HeadDim == 0 || h.HeadDim%2 != 0 {
		return nil, fmt.Errorf("model: head dimension %d must be even and non-zero", h.HeadDim)
	}
	if h.NormEps, err = m.float(key("attention.layer_norm_rms_epsilon"), 1e-5); err != nil {
		return nil, err
	}
	r := &h.RoPE
	r.HeadDim = h.HeadDim
	if r.Dims, err = m.uint(key("rope.dimension_count"), h.HeadDim, false); err != nil {
		return nil, err
	}
	if r.Dims > h.HeadDim || r.Dims%2 != 0 {
		return nil, fmt.Errorf("model: key %q: %d rotated dimensions for heads of %d", key("rope.dimension_count"), r.Dims, h.HeadDim)
	}
	if r.FreqBase, err = m.float(key("rope.freq_base"), 10000); err != nil {
		return nil, err
	}
	r.FreqScale = 1
	scaling, err := m.str(key("rope.scaling.type"), "none")
	if err != nil {
		return nil, err
	}
	switch scaling {
	case "none":
	case "linear":
		factor, err := m.float(key("rope.scaling.factor"), 1)
		if err != nil {
			return nil, err
		}
		if factor <= 0 {
			return nil, fmt.Errorf("model: key %q: scaling factor %g must be positive", key("rope.scaling.factor"), factor)
		}
		r.FreqScale = 1 / factor
	default:
		return nil, fmt.Errorf("model: key %q: RoPE scaling %q is not supported (none, linear)", key("rope.scaling.type"), scaling)
	}
	return h, nil
}
