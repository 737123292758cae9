// Package synth writes random-weight models of real shapes with our GGUF writer,
// for tests and benchmarks where no real model of that size can be had. Weights
// are scaled so activations stay of order one through every layer.
package synth

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// Config is the shape and contents of a synthetic model.
type Config struct {
	Arch    string // "llama" or "qwen3moe"
	Dim     int
	Layers  int
	Heads   int
	KVHeads int
	HeadDim int // 0: Dim/Heads
	FFN     int // the dense feed-forward width (recorded only, for qwen3moe)
	// A mixture of experts (qwen3moe; llama with experts is Mixtral's shape):
	// Experts stacks of ExpertFFN-wide gated feed-forwards per layer, of
	// which ExpertsUsed are chosen per token by the router ffn_gate_inp.
	Experts, ExpertsUsed, ExpertFFN int
	ContextLength                   int // 0: 2048
	// The vocabulary: copied from the GGUF file VocabFrom (a model or a vocab-only
	// file, with tokenizer.ggml.model "llama"), or made up with VocabSize tokens.
	VocabFrom string
	VocabSize int
	// Type is the type of the 2-D weights; a tensor whose rows do not divide into
	// its blocks stays F32, as do the norms.
	Type gguf.Type
	// TypeOf, if set, chooses each weight's type in file order instead (a
	// quantization mix's rules, as conveyor quantize would choose them; dims
	// as GGUF writes them); rows that do not divide into its blocks stay F32.
	TypeOf func(name string, dims []uint64) gguf.Type
	// Pool, if positive, draws each quantized tensor's rows at random from
	// Pool distinct random rows quantized once, rather than quantizing every
	// row: a model of billions of weights is written in seconds, with the
	// same types, sizes and memory traffic (for speed measurements).
	Pool int
	// FileType is general.file_type where TypeOf is set (llama.cpp's number
	// of the mix); otherwise it follows Type.
	FileType int
	Seed     uint64
}

func (c *Config) check() error {
	switch c.Arch {
	case "llama":
		if c.Experts > 0 {
			// Mixtral: the experts are as wide as llama.feed_forward_length.
			if c.ExpertFFN == 0 {
				c.ExpertFFN = c.FFN
			}
			if c.ExpertFFN != c.FFN {
				return fmt.Errorf("synth: llama's experts are --ffn wide: give --expert-ffn %d or none", c.FFN)
			}
		}
	case "qwen3moe":
		if c.Experts == 0 {
			return fmt.Errorf("synth: qwen3moe needs --experts, --experts-used and --expert-ffn")
		}
		if c.FFN == 0 {
			c.FFN = c.ExpertFFN
		}
	default:
		return fmt.Errorf("synth: architecture %q is not supported (llama, qwen3moe)", c.Arch)
	}
	if c.Dim <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.FFN <= 0 {
		return fmt.Errorf("synth: --dim, --layers, --heads and --ffn must be positive")
	}
	if c.Experts > 0 && (c.ExpertsUsed <= 0 || c.ExpertsUsed > c.Experts || c.ExpertFFN <= 0) {
		return fmt.Errorf("synth: %d experts, %d used, %d wide: want 1 <= used <= experts and a positive width", c.Experts, c.ExpertsUsed, c.ExpertFFN)
	}
	if c.Experts == 0 && (c.ExpertsUsed != 0 || c.ExpertFFN != 0) {
		return fmt.Errorf("synth: --experts-used and --expert-ffn need --experts")
	}
	if c.KVHeads == 0 {
		c.KVHeads = c.Heads
	}
	if c.HeadDim == 0 {
		if c.Dim%c.Heads != 0 {
			return fmt.Errorf("synth: %d heads do not divide dim %d: give --head-dim", c.Heads, c.Dim)
		}
		c.HeadDim = c.Dim / c.Heads
	}
	if c.Heads%c.KVHeads != 0 || c.HeadDim%2 != 0 {
		return fmt.Errorf("synth: %d heads of %d, %d KV heads: heads must be even in size, KV heads must divide heads", c.Heads, c.HeadDim, c.KVHeads)
	}
	if (c.VocabFrom == "") == (c.VocabSize == 0) {
		return fmt.Errorf("synth: give exactly one of --vocab-from and --vocab-size")
	}
	if c.VocabFrom == "" && c.VocabSize < 259+3 {
		return fmt.Errorf("synth: --vocab-size %d is below the 262 tokens of specials and bytes", c.VocabSize)
	}
	if _, err := kernels.FormatOf(c.Type); err != nil {
		return fmt.Errorf("synth: type %v cannot be written: %w", c.Type, err)
	}
	if c.ContextLength == 0 {
		c.ContextLength = 2048
	}
	return nil
}

// Build lays out the model; its tensors are generated as the writer writes them,
// so memory stays bounded whatever the model's size.
func Build(c Config) (*gguf.Writer, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	w := gguf.NewWriter()
	vocab, err := c.vocabulary(w)
	if err != nil {
		return nil, err
	}
	a, ft := c.Arch, fileType(c.Type)
	if c.TypeOf != nil {
		ft = c.FileType
	}
	kv := []struct {
		key string
		val any
	}{
		{"general.architecture", a},
		{"general.name", fmt.Sprintf("synthetic %s %dd %dL", a, c.Dim, c.Layers)},
		{"general.file_type", uint32(ft)},
		{a + ".context_length", uint32(c.ContextLength)},
		{a + ".embedding_length", uint32(c.Dim)},
		{a + ".block_count", uint32(c.Layers)},
		{a + ".feed_forward_length", uint32(c.FFN)},
		{a + ".attention.head_count", uint32(c.Heads)},
		{a + ".attention.head_count_kv", uint32(c.KVHeads)},
		{a + ".rope.dimension_count", uint32(c.HeadDim)},
		{a + ".rope.freq_base", float32(10000)},
		{a + ".attention.layer_norm_rms_epsilon", float32(1e-5)},
		{a + ".vocab_size", uint32(vocab)},
	}
	if a != "llama" || c.HeadDim*c.Heads != c.Dim {
		kv = append(kv, []struct {
			key string
			val any
		}{
			{a + ".attention.key_length", uint32(c.HeadDim)},
			{a + ".attention.value_length", uint32(c.HeadDim)},
		}...)
	}
	if c.Experts > 0 {
		kv = append(kv, []struct {
			key string
			val any
		}{
			{a + ".expert_count", uint32(c.Experts)},
			{a + ".expert_used_count", uint32(c.ExpertsUsed)},
		}...)
		if a != "llama" {
			kv = append(kv, struct {
				key string
				val any
			}{a + ".expert_feed_forward_length", uint32(c.ExpertFFN)})
		}
	}
	for _, e := range kv {
		if err := w.AddKV(e.key, e.val); err != nil {
			return nil, err
		}
	}
	qDim, kvDim := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	seed := c.Seed
	// add writes a tensor of experts (1 for a matrix) stacked matrices of
	// rows x cols; norms are vectors of cols, and the router stays F32.
	add := func(name string, experts, rows, cols int, norm, f32 bool) error {
		seed++
		dims := []uint64{uint64(cols)}
		if !norm {
			dims = append(dims, uint64(rows))
		}
		if experts > 1 {
			dims = append(dims, uint64(experts))
		}
		typ := c.Type
		if c.TypeOf != nil && !norm && !f32 {
			typ = c.TypeOf(name, dims)
		}
		if _, err := kernels.FormatOf(typ); err != nil {
			return fmt.Errorf("synth: %s: type %v cannot be written: %w", name, typ, err)
		}
		if norm || f32 || cols%typ.BlockSize() != 0 {
			typ = gguf.TypeF32
		}
		s, pool := seed, 0
		if !norm && typ != gguf.TypeF32 {
			pool = c.Pool
		}
		return w.AddTensorFunc(name, typ, dims, func(out io.Writer) error {
			return writeRandom(out, typ, experts*rows, cols, norm, pool, s)
		})
	}
	if err := add("token_embd.weight", 1, vocab, c.Dim, false, false); err != nil {
		return nil, err
	}
	if err := add("output_norm.weight", 1, 1, c.Dim, true, false); err != nil {
		return nil, err
	}
	if err := add("output.weight", 1, vocab, c.Dim, false, false); err != nil {
		return nil, err
	}
	type tensor struct {
		name                string
		experts, rows, cols int
		norm, f32           bool
	}
	layer := []tensor{
		{"attn_norm", 1, 1, c.Dim, true, false},
		{"attn_q", 1, qDim, c.Dim, false, false},
		{"attn_k", 1, kvDim, c.Dim, false, false},
		{"attn_v", 1, kvDim, c.Dim, false, false},
		{"attn_output", 1, c.Dim, qDim, false, false},
	}
	if a == "qwen3moe" {
		layer = append(layer, tensor{"attn_q_norm", 1, 1, c.HeadDim, true, false}, tensor{"attn_k_norm", 1, 1, c.HeadDim, true, false})
	}
	layer = append(layer, tensor{"ffn_norm", 1, 1, c.Dim, true, false})
	if c.Experts > 0 {
		layer = append(layer,
			tensor{"ffn_gate_inp", 1, c.Experts, c.Dim, false, true},
			tensor{"ffn_gate_exps", c.Experts, c.ExpertFFN, c.Dim, false, false},
			tensor{"ffn_up_exps", c.Experts, c.ExpertFFN, c.Dim, false, false},
			tensor{"ffn_down_exps", c.Experts, c.Dim, c.ExpertFFN, false, false})
	} else {
		layer = append(layer,
			tensor{"ffn_gate", 1, c.FFN, c.Dim, false, false},
			tensor{"ffn_up", 1, c.FFN, c.Dim, false, false},
			tensor{"ffn_down", 1, c.Dim, c.FFN, false, false})
	}
	for l := 0; l < c.Layers; l++ {
		for _, t := range layer {
			if err := add(fmt.Sprintf("blk.%d.%s.weight", l, t.name), t.experts, t.rows, t.cols, t.norm, t.f32); err != nil {
				return nil, err
			}
		}
	}
	return w, nil
}

// Write builds the model and writes it to path (atomically).
func Write(path string, c Config) error {
	w, err := Build(c)
	if err != nil {
		return err
	}
	return w.WriteFile(path)
}

// writeRandom writes rows of cols values: norms are 1 plus a little noise, other
// weights normal with standard deviation 1/sqrt(cols), so each output of a
// matmul over a unit-scale input has unit scale.
//
// With pool > 0 (and fewer than rows), pool such rows are made and each row
// written is one of them, chosen at random.
func writeRandom(out io.Writer, typ gguf.Type, rows, cols int, norm bool, pool int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	format, err := kernels.FormatOf(typ)
	if err != nil {
		return err
	}
	scale := 1 / math.Sqrt(float64(cols))
	vals := make([]float32, cols)
	rowBytes := typ.RowBytes(cols)
	buf := make([]byte, rowBytes)
	if pool > 0 && pool < rows {
		made := make([]byte, pool*rowBytes)
		for r := range pool {
			for i := range vals {
				vals[i] = float32(rng.NormFloat64() * scale)
			}
			format.Quantize(made[r*rowBytes:(r+1)*rowBytes], vals)
		}
		for range rows {
			r := rng.IntN(pool)
			if _, err := out.Write(made[r*rowBytes : (r+1)*rowBytes]); err != nil {
				return err
			}
		}
		return nil
	}
	for r := 0; r < rows; r++ {
		for i := range vals {
			if norm {
				vals[i] = float32(1 + 0.1*rng.NormFloat64())
			} else {
				vals[i] = float32(rng.NormFloat64() * scale)
			}
		}
		format.Quantize(buf, vals)
		if _, err := out.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// fileType is llama.cpp's general.file_type for a model mostly of type t.
func fileType(t gguf.Type) int {
	switch t {
	case gguf.TypeF32:
		return 0
	case gguf.TypeF16:
		return 1
	case gguf.TypeQ4_0:
		return 2
	case gguf.TypeQ4_1:
		return 3
	case gguf.TypeQ8_0:
		return 7
	case gguf.TypeQ5_0:
		return 8
	case gguf.TypeQ5_1:
		return 9
	case gguf.TypeQ2_K:
		return 10
	case gguf.TypeQ3_K:
		return 11 // Q3_K_S, the mix that is all Q3_K
	case gguf.TypeQ4_K:
		return 14 // Q4_K_S
	case gguf.TypeQ5_K:
		return 16 // Q5_K_S
	case gguf.TypeQ6_K:
		return 18
	case gguf.TypeIQ4_NL:
		return 25
	case gguf.TypeIQ4_XS:
		return 30
	case gguf.TypeBF16:
		return 32
	}
	return 0
}
