// Package model holds the architectures: each reads its hyperparameters and binds
// its weights from a GGUF file, and writes its forward pass over backend ops.
package model

import (
	"fmt"
	"math"
	"strconv"
	"strings"

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
	AttnScale     float32 // applied to q·k: 1/sqrt(HeadDim) unless the architecture says otherwise
	// Features names what this model uses, for `conveyor info` ("GQA 4:1", "NeoX RoPE", ...).
	Features []string
	// Mixture of experts (0 for a dense model): experts per layer, chosen
	// per token, and the width of each expert's feed-forward.
	Experts, ExpertsUsed, ExpertFFN int
	// SharedFFN is the width of the shared expert beside the routed ones
	// (Qwen3-Next, Qwen 3.5 MoE; 0: none).
	SharedFFN int
	// Hybrid, when not nil, describes the Gated DeltaNet layers of a hybrid
	// linear-attention model (see deltanet.go).
	Hybrid *Hybrid
	// normSizes are the widths of the q and k norm weights, where there are any.
	qNormSize, kNormSize int
	// expertBiases: the experts have biases (gpt-oss), gathered per slot into
	// the activation "moe.bias".
	expertBiases bool
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

// positive reads a float key that must be finite and positive (an epsilon,
// a RoPE base, a scale), naming the key if it is not.
func (m meta) positive(key string, def float32) (float32, error) {
	x, err := m.float(key, def)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) || x <= 0 {
		return 0, fmt.Errorf("model: key %q: %g must be a finite positive number", key, x)
	}
	return x, nil
}

// blocksPresent is how many blocks the file has tensors for: one more than
// the largest N of a "blk.N." tensor name.
func blocksPresent(f *gguf.File) int {
	n := 0
	for _, t := range f.Tensors {
		rest, ok := strings.CutPrefix(t.Name, "blk.")
		if !ok {
			continue
		}
		num, _, ok := strings.Cut(rest, ".")
		if i, err := strconv.Atoi(num); ok && err == nil && i >= n {
			n = i + 1
		}
	}
	return n
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

// readHyper reads the keys every transformer here shares, RoPE's included,
// with llama.cpp's defaults.
func readHyper(f *gguf.File, arch string) (*Hyper, error) {
	h, err := readHyperNoRoPE(f, arch)
	if err != nil {
		return nil, err
	}
	return h, readRoPE(f, h)
}

// readHyperNoRoPE reads the shared keys but RoPE's (GPT-2 has learned positions).
func readHyperNoRoPE(f *gguf.File, arch string) (*Hyper, error) {
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
	// A model whose every feed-forward is a mixture of experts may have no
	// dense width (Qwen3-Next).
	_, hasExpertFFN := f.Lookup(key("expert_feed_forward_length"))
	moeOnly := hasExperts(f, arch) && hasExpertFFN
	if h.FFN, err = m.uint(key("feed_forward_length"), 0, !moeOnly); err != nil {
		return nil, err
	}
	if h.ContextLength, err = m.uint(key("context_length"), 2048, false); err != nil {
		return nil, err
	}
	if h.ContextLength == 0 {
		return nil, fmt.Errorf("model: key %q: the training context must not be 0", key("context_length"))
	}
	if h.Heads == 0 || h.KVHeads == 0 || h.Heads%h.KVHeads != 0 {
		return nil, fmt.Errorf("model: %d attention heads do not divide into %d KV heads", h.Heads, h.KVHeads)
	}
	if h.Dim == 0 || h.Layers == 0 || (h.FFN == 0 && !moeOnly) {
		return nil, fmt.Errorf("model: embedding_length %d, block_count %d, feed_forward_length %d: none may be 0", h.Dim, h.Layers, h.FFN)
	}
	// Everything per layer is sized by block_count: compare it with the
	// tensors present before anything is.
	if n := blocksPresent(f); h.Layers > n {
		return nil, fmt.Errorf("model: key %q: %d blocks, but the file has tensors for %d", key("block_count"), h.Layers, n)
	}
	defHead := h.Dim / h.Heads
	if h.HeadDim, err = m.uint(key("attention.key_length"), defHead, false); err != nil {
		return nil, err
	}
	if h.HeadDim == 0 || h.HeadDim%2 != 0 {
		return nil, fmt.Errorf("model: head dimension %d must be even and non-zero", h.HeadDim)
	}
	if h.NormEps, err = m.positive(key("attention.layer_norm_rms_epsilon"), 1e-5); err != nil {
		return nil, err
	}
	h.AttnScale = invSqrt(h.HeadDim)
	if h.Heads != h.KVHeads {
		h.Features = append(h.Features, fmt.Sprintf("GQA %d:1", h.Heads/h.KVHeads))
	}
	return h, nil
}

// readRoPE reads the RoPE keys.
func readRoPE(f *gguf.File, h *Hyper) error {
	m := meta{f}
	key := func(k string) string { return h.Arch + "." + k }
	var err error
	r := &h.RoPE
	r.HeadDim = h.HeadDim
	if r.Dims, err = m.uint(key("rope.dimension_count"), h.HeadDim, false); err != nil {
		return err
	}
	if r.Dims > h.HeadDim || r.Dims%2 != 0 {
		return fmt.Errorf("model: key %q: %d rotated dimensions for heads of %d", key("rope.dimension_count"), r.Dims, h.HeadDim)
	}
	if r.FreqBase, err = m.positive(key("rope.freq_base"), 10000); err != nil {
		return err
	}
	r.FreqScale = 1
	scaling, err := m.str(key("rope.scaling.type"), "none")
	if err != nil {
		return err
	}
	switch scaling {
	case "none":
	case "linear":
		factor, err := m.positive(key("rope.scaling.factor"), 1)
		if err != nil {
			return err
		}
		r.FreqScale = 1 / factor
		h.Features = append(h.Features, fmt.Sprintf("linear RoPE scaling x%g", factor))
	case "yarn":
		if err := readYaRN(f, h); err != nil {
			return err
		}
	default:
		return fmt.Errorf("model: key %q: RoPE scaling %q is not supported (none, linear, yarn)", key("rope.scaling.type"), scaling)
	}
	return nil
}

// sizes are the names the weight shapes are written in.
func (h *Hyper) sizes() map[string]int {
	m := map[string]int{"dim": h.Dim, "qdim": h.QDim(), "kvdim": h.KVDim(), "ffn": h.FFN, "vocab": h.Vocab,
		"qnorm": h.qNormSize, "knorm": h.kNormSize, "qkvdim": h.QDim() + 2*h.KVDim(), "ffn2": 2 * h.FFN,
		"ctx": h.ContextLength, "experts": h.Experts, "effn": h.ExpertFFN, "heads": h.Heads}
	if h.Hybrid != nil {
		h.Hybrid.addSizes(h, m)
	}
	return m
}

// Activations names the scratch tensors a forward pass uses and their widths.
func (h *Hyper) Activations() map[string]int {
	acts := map[string]int{
		"x": h.Dim, "xb": h.Dim, "xb2": h.Dim,
		"q": h.QDim(), "k": h.KVDim(), "v": h.KVDim(), "att": h.QDim(),
		"gate": h.FFN, "up": h.FFN,
		"out.x": h.Dim, "out.xb": h.Dim,
	}
	if h.Experts > 0 {
		addMoEActivations(h, acts)
	}
	if h.Hybrid != nil {
		h.Hybrid.addActivations(h, acts)
	}
	return acts
}
