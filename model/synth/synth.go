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
	Arch          string // "llama"
	Dim           int
	Layers        int
	Heads         int
	KVHeads       int
	FFN           int
	ContextLength int // 0: 2048
	// The vocabulary: copied from the GGUF file VocabFrom (a model or a vocab-only
	// file, with tokenizer.ggml.model "llama"), or made up with VocabSize tokens.
	VocabFrom string
	VocabSize int
	// Type is the type of the 2-D weights; a tensor whose rows do not divide into
	// its blocks stays F32, as do the norms.
	Type gguf.Type
	Seed uint64
}

func (c *Config) check() error {
	if c.Arch != "llama" {
		return fmt.Errorf("synth: architecture %q is not supported (llama)", c.Arch)
	}
	if c.Dim <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.FFN <= 0 {
		return fmt.Errorf("synth: --dim, --layers, --heads and --ffn must be positive")
	}
	if c.KVHeads == 0 {
		c.KVHeads = c.Heads
	}
	if c.Dim%c.Heads != 0 || c.Heads%c.KVHeads != 0 || (c.Dim/c.Heads)%2 != 0 {
		return fmt.Errorf("synth: dim %d, %d heads, %d KV heads: heads must divide dim into even head sizes, KV heads must divide heads", c.Dim, c.Heads, c.KVHeads)
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
	headDim := c.Dim / c.Heads
	kv := []struct {
		key string
		val any
	}{
		{"general.architecture", "llama"},
		{"general.name", fmt.Sprintf("synthetic llama %dd %dL", c.Dim, c.Layers)},
		{"general.file_type", uint32(fileType(c.Type))},
		{"llama.context_length", uint32(c.ContextLength)},
		{"llama.embedding_length", uint32(c.Dim)},
		{"llama.block_count", uint32(c.Layers)},
		{"llama.feed_forward_length", uint32(c.FFN)},
		{"llama.attention.head_count", uint32(c.Heads)},
		{"llama.attention.head_count_kv", uint32(c.KVHeads)},
		{"llama.rope.dimension_count", uint32(headDim)},
		{"llama.rope.freq_base", float32(10000)},
		{"llama.attention.layer_norm_rms_epsilon", float32(1e-5)},
		{"llama.vocab_size", uint32(vocab)},
	}
	for _, e := range kv {
		if err := w.AddKV(e.key, e.val); err != nil {
			return nil, err
		}
	}
	kvDim := c.KVHeads * headDim
	seed := c.Seed
	add := func(name string, rows, cols int, norm bool) error {
		seed++
		typ := c.Type
		if norm || cols%typ.BlockSize() != 0 {
			typ = gguf.TypeF32
		}
		dims := []uint64{uint64(cols)}
		if !norm {
			dims = append(dims, uint64(rows))
		}
		s := seed
		return w.AddTensorFunc(name, typ, dims, func(out io.Writer) error {
			return writeRandom(out, typ, rows, cols, norm, s)
		})
	}
	if err := add("token_embd.weight", vocab, c.Dim, false); err != nil {
		return nil, err
	}
	if err := add("output_norm.weight", 1, c.Dim, true); err != nil {
		return nil, err
	}
	if err := add("output.weight", vocab, c.Dim, false); err != nil {
		return nil, err
	}
	for l := 0; l < c.Layers; l++ {
		for _, t := range []struct {
			name       string
			rows, cols int
			norm       bool
		}{
			{"attn_norm", 1, c.Dim, true},
			{"attn_q", c.Dim, c.Dim, false},
			{"attn_k", kvDim, c.Dim, false},
			{"attn_v", kvDim, c.Dim, false},
			{"attn_output", c.Dim, c.Dim, false},
			{"ffn_norm", 1, c.Dim, true},
			{"ffn_gate", c.FFN, c.Dim, false},
			{"ffn_up", c.FFN, c.Dim, false},
			{"ffn_down", c.Dim, c.FFN, false},
		} {
			if err := add(fmt.Sprintf("blk.%d.%s.weight", l, t.name), t.rows, t.cols, t.norm); err != nil {
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
func writeRandom(out io.Writer, typ gguf.Type, rows, cols int, norm bool, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	format, err := kernels.FormatOf(typ)
	if err != nil {
		return err
	}
	scale := 1 / math.Sqrt(float64(cols))
	vals := make([]float32, cols)
	buf := make([]byte, typ.RowBytes(cols))
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
