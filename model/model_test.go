package model

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/backend/cpu"
	"github.com/conveyor-llm/conveyor/gguf"
)

// tinyLlama is the metadata and tensor shapes of a 2-layer Llama (dim 32,
// 4 heads, 2 KV heads, FFN 64, vocab 40), for tests to spoil one thing at a time.
type tinyLlama struct {
	kv      map[string]any
	order   []string
	tensors map[string][]uint64
	types   map[string]gguf.Type
}

func newTinyLlama() *tinyLlama {
	m := &tinyLlama{kv: map[string]any{}, tensors: map[string][]uint64{}, types: map[string]gguf.Type{}}
	m.set("general.architecture", "llama")
	m.set("llama.embedding_length", uint32(32))
	m.set("llama.block_count", uint32(2))
	m.set("llama.feed_forward_length", uint32(64))
	m.set("llama.attention.head_count", uint32(4))
	m.set("llama.attention.head_count_kv", uint32(2))
	m.set("llama.vocab_size", uint32(40))
	m.tensor("token_embd.weight", 32, 40)
	m.tensor("output_norm.weight", 32)
	for l := 0; l < 2; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		m.tensor(p+"attn_norm.weight", 32)
		m.tensor(p+"attn_q.weight", 32, 32)
		m.tensor(p+"attn_k.weight", 32, 16)
		m.tensor(p+"attn_v.weight", 32, 16)
		m.tensor(p+"attn_output.weight", 32, 32)
		m.tensor(p+"ffn_norm.weight", 32)
		m.tensor(p+"ffn_gate.weight", 32, 64)
		m.tensor(p+"ffn_up.weight", 32, 64)
		m.tensor(p+"ffn_down.weight", 64, 32)
	}
	return m
}

func (m *tinyLlama) set(key string, v any) {
	if _, ok := m.kv[key]; !ok {
		m.order = append(m.order, key)
	}
	m.kv[key] = v
}

func (m *tinyLlama) tensor(name string, dims ...uint64) {
	m.tensors[name] = dims
	m.types[name] = gguf.TypeF32
}

func (m *tinyLlama) open(t *testing.T) *gguf.File {
	t.Helper()
	w := gguf.NewWriter()
	for _, k := range m.order {
		if v, ok := m.kv[k]; ok {
			require.NoError(t, w.AddKV(k, v))
		}
	}
	names := make([]string, 0, len(m.tensors))
	for name := range m.tensors {
		names = append(names, name)
	}
	for _, name := range names {
		dims, typ := m.tensors[name], m.types[name]
		n := uint64(1)
		for _, d := range dims {
			n *= d
		}
		require.NoError(t, w.AddTensor(name, typ, dims, make([]byte, typ.RowBytes(int(n)))))
	}
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	require.NoError(t, w.WriteFile(path))
	f, err := gguf.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

func TestLoadChecksTheModelAgainstItsHyperparameters(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(m *tinyLlama)
		want  string
	}{
		{"unsupported architecture", func(m *tinyLlama) { m.set("general.architecture", "mamba") },
			`architecture "mamba" is not supported (supported: bert, gemma2, gemma3, gpt-oss, gpt2, llama, nomic-bert, olmo2, phi3, qwen2, qwen3, qwen35, qwen35moe, qwen3moe, qwen3next, smollm3)`},
		{"no architecture", func(m *tinyLlama) { delete(m.kv, "general.architecture") }, `missing key "general.architecture"`},
		{"missing hyperparameter", func(m *tinyLlama) { delete(m.kv, "llama.block_count") }, `missing key "llama.block_count"`},
		{"hyperparameter of the wrong type", func(m *tinyLlama) { m.set("llama.block_count", "two") }, `llama.block_count`},
		{"heads that do not divide into KV heads", func(m *tinyLlama) { m.set("llama.attention.head_count_kv", uint32(3)) },
			"4 attention heads do not divide into 3 KV heads"},
		{"tensor shape that disagrees", func(m *tinyLlama) { m.tensor("blk.1.attn_k.weight", 32, 32) },
			`tensor "blk.1.attn_k.weight" has shape [32 32], the hyperparameters say [32 16]`},
		{"missing tensor", func(m *tinyLlama) { delete(m.tensors, "blk.0.ffn_up.weight") }, `missing tensor "blk.0.ffn_up.weight"`},
		{"unsupported tensor type", func(m *tinyLlama) { m.types["blk.0.attn_q.weight"] = gguf.TypeI32 },
			`tensor "blk.0.attn_q.weight": type I32 is not supported`},
		{"unsupported RoPE scaling", func(m *tinyLlama) { m.set("llama.rope.scaling.type", "longrope") }, `RoPE scaling "longrope" is not supported`},
		{"odd rotated dimensions", func(m *tinyLlama) { m.set("llama.rope.dimension_count", uint32(7)) }, "7 rotated dimensions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTinyLlama()
			tt.spoil(m)
			b := cpu.New(1)
			defer b.Close()
			_, _, err := Load(m.open(t), b, nil)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestLoadTiedOutputFallsBackToTheEmbedding(t *testing.T) {
	b := cpu.New(1)
	defer b.Close()
	m, _, err := Load(newTinyLlama().open(t), b, nil)
	require.NoError(t, err)
	l := m.(*Llama)
	require.Equal(t, l.w.TokenEmbd, l.w.Output)
	require.Equal(t, 40, m.Hyper().Vocab)
	require.Equal(t, 8, m.Hyper().HeadDim)
}

// Hostile files: every value a forward pass would turn into garbage or a
// panic, and every size larger than the file, is refused at load, naming the
// key or tensor at fault.
func TestLoadRefusesHostileFiles(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	tests := []struct {
		name  string
		spoil func(m *tinyLlama)
		want  string
	}{
		{"F16 norm weight", func(m *tinyLlama) { m.types["blk.1.ffn_norm.weight"] = gguf.TypeF16 },
			`tensor "blk.1.ffn_norm.weight": type F16, but norm weights and biases must be F32`},
		{"Q8_0 output norm", func(m *tinyLlama) { m.types["output_norm.weight"] = gguf.TypeQ8_0 },
			`tensor "output_norm.weight": type Q8_0`},
		{"block_count past the tensors", func(m *tinyLlama) { m.set("llama.block_count", uint32(1000000000)) },
			`key "llama.block_count": 1000000000 blocks, but the file has tensors for 2`},
		{"block_count one past", func(m *tinyLlama) { m.set("llama.block_count", uint32(3)) }, `3 blocks, but the file has tensors for 2`},
		{"NaN epsilon", func(m *tinyLlama) { m.set("llama.attention.layer_norm_rms_epsilon", nan) },
			`key "llama.attention.layer_norm_rms_epsilon": NaN must be a finite positive number`},
		{"negative epsilon", func(m *tinyLlama) { m.set("llama.attention.layer_norm_rms_epsilon", float32(-1e-5)) },
			`key "llama.attention.layer_norm_rms_epsilon"`},
		{"RoPE base 0", func(m *tinyLlama) { m.set("llama.rope.freq_base", float32(0)) }, `key "llama.rope.freq_base": 0 must be`},
		{"RoPE base NaN", func(m *tinyLlama) { m.set("llama.rope.freq_base", nan) }, `key "llama.rope.freq_base": NaN`},
		{"RoPE base Inf", func(m *tinyLlama) { m.set("llama.rope.freq_base", inf) }, `key "llama.rope.freq_base": +Inf`},
		{"RoPE scaling factor NaN", func(m *tinyLlama) {
			m.set("llama.rope.scaling.type", "linear")
			m.set("llama.rope.scaling.factor", nan)
		}, `key "llama.rope.scaling.factor"`},
		{"context_length 0", func(m *tinyLlama) { m.set("llama.context_length", uint32(0)) }, `key "llama.context_length"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTinyLlama()
			tt.spoil(m)
			b := cpu.New(1)
			defer b.Close()
			_, _, err := Load(m.open(t), b, nil)
			require.ErrorContains(t, err, tt.want)
		})
	}
}
