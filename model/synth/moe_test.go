package synth_test

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/model"
	"github.com/conveyor-llm/conveyor/model/synth"
	"github.com/conveyor-llm/conveyor/quantize"
)

// TestQwen3MoE: synth writes a qwen3moe file with qwen3moe's keys, 3-D expert
// stacks of [dim or expert width, rows, experts], an F32 router and per-head
// q/k norms; it loads, and a prompt and a few decoded tokens give finite
// logits.
func TestQwen3MoE(t *testing.T) {
	path := filepath.Join(t.TempDir(), "moe.gguf")
	require.NoError(t, synth.Write(path, synth.Config{Arch: "qwen3moe", Dim: 256, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 128,
		Experts: 8, ExpertsUsed: 2, ExpertFFN: 256, VocabSize: 600, Type: gguf.TypeQ4_K, Seed: 3}))

	f, err := gguf.Open(path)
	require.NoError(t, err)
	for key, want := range map[string]uint64{"qwen3moe.expert_count": 8, "qwen3moe.expert_used_count": 2,
		"qwen3moe.expert_feed_forward_length": 256, "qwen3moe.attention.key_length": 128, "qwen3moe.block_count": 2} {
		v, ok := f.Lookup(key)
		require.True(t, ok, key)
		n, err := v.Uint()
		require.NoError(t, err)
		require.Equal(t, want, n, key)
	}
	for name, want := range map[string][]uint64{
		"blk.1.ffn_gate_exps.weight": {256, 256, 8},
		"blk.1.ffn_up_exps.weight":   {256, 256, 8},
		"blk.1.ffn_down_exps.weight": {256, 256, 8},
		"blk.1.ffn_gate_inp.weight":  {256, 8},
		"blk.1.attn_q.weight":        {256, 512},
		"blk.1.attn_output.weight":   {512, 256},
		"blk.1.attn_q_norm.weight":   {128},
	} {
		ti, ok := f.Tensor(name)
		require.True(t, ok, name)
		require.Equal(t, want, ti.Dims, name)
		typ := gguf.TypeQ4_K
		if len(want) == 1 || name == "blk.1.ffn_gate_inp.weight" {
			typ = gguf.TypeF32
		}
		require.Equal(t, typ, ti.Type, name)
	}
	f.Close()

	m, err := engine.Load(path, engine.Options{Backend: "cpu", Threads: 2})
	require.NoError(t, err)
	defer m.Close()
	s, err := m.NewSession(engine.SessionOptions{Context: 64, Sequences: 1, BatchSize: 32})
	require.NoError(t, err)
	defer s.Close()
	tokens := []int32{1, 300, 301, 302, 303, 304}
	b := model.Batch{Tokens: tokens, Outputs: []int32{int32(len(tokens) - 1)}}
	for i := range tokens {
		b.Pos, b.Seq = append(b.Pos, int32(i)), append(b.Seq, 0)
	}
	for step := range 4 {
		out, err := s.Forward(b)
		require.NoError(t, err)
		require.Len(t, out[0], 600)
		best := 0
		for i, v := range out[0] {
			require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0), "logit %d at step %d", i, step)
			if v > out[0][best] {
				best = i
			}
		}
		pos := b.Pos[len(b.Pos)-1] + 1
		b = model.Batch{Tokens: []int32{int32(best)}, Pos: []int32{pos}, Seq: []int32{0}, Outputs: []int32{0}}
	}
}

// TestConfigChecks: MoE flags are refused where they do not fit.
func TestConfigChecks(t *testing.T) {
	base := synth.Config{Arch: "qwen3moe", Dim: 256, Layers: 1, Heads: 4, VocabSize: 300, Type: gguf.TypeF32}
	for name, set := range map[string]func(*synth.Config){
		"no experts":     func(c *synth.Config) {},
		"used > experts": func(c *synth.Config) { c.Experts, c.ExpertsUsed, c.ExpertFFN = 4, 5, 64 },
		"used without":   func(c *synth.Config) { c.Arch, c.FFN, c.ExpertsUsed = "llama", 64, 2 },
		"mixtral width":  func(c *synth.Config) { c.Arch, c.FFN, c.Experts, c.ExpertsUsed, c.ExpertFFN = "llama", 64, 4, 2, 32 },
		"odd head size":  func(c *synth.Config) { c.Experts, c.ExpertsUsed, c.ExpertFFN, c.HeadDim = 4, 2, 64, 33 },
		"unknown":        func(c *synth.Config) { c.Arch = "mamba" },
	} {
		c := base
		set(&c)
		_, err := synth.Build(c)
		require.Error(t, err, name)
	}
}

// TestQuantizeQwen3MoE: conveyor quantize's Q4_K_M handles the 3-D expert
// stacks as llama.cpp does: the router stays F32, gate and up experts take
// Q4_K, and ffn_down_exps takes Q6_K on the layers use_more_bits picks by the
// layer number in the name (of 8 layers: 0, 3, 6 and 7), Q4_K elsewhere.
func TestQuantizeQwen3MoE(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "f32.gguf"), filepath.Join(dir, "q4km.gguf")
	require.NoError(t, synth.Write(in, synth.Config{Arch: "qwen3moe", Dim: 256, Layers: 8, Heads: 2, KVHeads: 1,
		Experts: 4, ExpertsUsed: 2, ExpertFFN: 256, VocabSize: 300, Type: gguf.TypeF32, Seed: 5}))
	require.NoError(t, quantize.File(in, out, quantize.Options{FileType: quantize.FileTypeQ4_K_M, Log: io.Discard}))
	f, err := gguf.Open(out)
	require.NoError(t, err)
	defer f.Close()
	for l := range 8 {
		down := gguf.TypeQ4_K
		if l == 0 || l == 3 || l == 6 || l == 7 {
			down = gguf.TypeQ6_K
		}
		for name, want := range map[string]gguf.Type{"ffn_gate_inp": gguf.TypeF32, "ffn_gate_exps": gguf.TypeQ4_K,
			"ffn_up_exps": gguf.TypeQ4_K, "ffn_down_exps": down} {
			ti, ok := f.Tensor(fmt.Sprintf("blk.%d.%s.weight", l, name))
			require.True(t, ok)
			require.Equal(t, want, ti.Type, "layer %d %s", l, name)
			if name != "ffn_gate_inp" {
				require.Equal(t, []uint64{256, 256, 4}, ti.Dims)
			}
		}
	}
}

// TestTypeOfAndPool: TypeOf chooses each weight's type (here Q6_K for the
// down experts, Q4_K elsewhere) and FileType is written; with Pool every
// row of a quantized tensor is one of Pool distinct rows.
func TestTypeOfAndPool(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pool.gguf")
	require.NoError(t, synth.Write(path, synth.Config{Arch: "qwen3moe", Dim: 256, Layers: 1, Heads: 2,
		Experts: 8, ExpertsUsed: 2, ExpertFFN: 256, VocabSize: 300, Type: gguf.TypeQ4_K, Pool: 16, Seed: 9, FileType: 15,
		TypeOf: func(name string, dims []uint64) gguf.Type {
			if strings.Contains(name, "ffn_down_exps") {
				return gguf.TypeQ6_K
			}
			return gguf.TypeQ4_K
		}}))
	f, err := gguf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	v, _ := f.Lookup("general.file_type")
	ft, _ := v.Uint()
	require.Equal(t, uint64(15), ft)
	for name, typ := range map[string]gguf.Type{"blk.0.ffn_down_exps.weight": gguf.TypeQ6_K, "blk.0.ffn_up_exps.weight": gguf.TypeQ4_K} {
		ti, ok := f.Tensor(name)
		require.True(t, ok)
		require.Equal(t, typ, ti.Type)
		data, rowBytes := f.TensorData(ti), typ.RowBytes(256)
		distinct := map[string]bool{}
		for r := 0; r < len(data); r += rowBytes {
			distinct[string(data[r:r+rowBytes])] = true
		}
		require.LessOrEqual(t, len(distinct), 16)
		require.Greater(t, len(distinct), 8)
	}
}

// TestDecodeWeightBytesCountsUsedExperts: a decoded token reads
// experts_used/experts of each expert stack, all of every other weight but
// the embedding table.
func TestDecodeWeightBytesCountsUsedExperts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "moe.gguf")
	require.NoError(t, synth.Write(path, synth.Config{Arch: "qwen3moe", Dim: 256, Layers: 1, Heads: 2,
		Experts: 8, ExpertsUsed: 2, ExpertFFN: 256, VocabSize: 300, Type: gguf.TypeQ4_K, Seed: 2}))
	f, err := gguf.Open(path)
	require.NoError(t, err)
	var want int64
	for _, ti := range f.Tensors {
		switch {
		case ti.Name == "token_embd.weight":
		case strings.Contains(ti.Name, "_exps."):
			want += int64(ti.Bytes()) / 8 * 2
		default:
			want += int64(ti.Bytes())
		}
	}
	f.Close()
	m, err := engine.Load(path, engine.Options{Backend: "cpu", Threads: 1})
	require.NoError(t, err)
	defer m.Close()
	require.Equal(t, want, m.DecodeWeightBytes())
}
