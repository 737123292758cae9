package quantize

import (
	"fmt"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/stretchr/testify/require"
)

// layerTensors is a llama model's tensors in file order: token_embd,
// output_norm, output, then per layer the norms and weights.
func layerTensors(layers, dim, ffn, kvDim int, f32 gguf.Type) []gguf.TensorInfo {
	ts := []gguf.TensorInfo{
		{Name: "token_embd.weight", Dims: []uint64{uint64(dim), 32000}, Type: f32},
		{Name: "output_norm.weight", Dims: []uint64{uint64(dim)}, Type: gguf.TypeF32},
		{Name: "output.weight", Dims: []uint64{uint64(dim), 32000}, Type: f32},
	}
	for l := 0; l < layers; l++ {
		add := func(name string, dims ...uint64) {
			ts = append(ts, gguf.TensorInfo{Name: fmt.Sprintf("blk.%d.%s.weight", l, name), Dims: dims, Type: f32})
		}
		add("attn_norm", uint64(dim))
		add("attn_q", uint64(dim), uint64(dim))
		add("attn_k", uint64(dim), uint64(kvDim))
		add("attn_v", uint64(dim), uint64(kvDim))
		add("attn_output", uint64(dim), uint64(dim))
		add("ffn_norm", uint64(dim))
		add("ffn_gate", uint64(dim), uint64(ffn))
		add("ffn_up", uint64(dim), uint64(ffn))
		add("ffn_down", uint64(ffn), uint64(dim))
	}
	for i := range ts {
		if len(ts[i].Dims) == 1 {
			ts[i].Type = gguf.TypeF32 // norms are F32 even in F16 files
		}
	}
	return ts
}

// plan runs a Planner over ts and returns the types by name.
func plan(ft FileType, heads, kvHeads int, ts []gguf.TensorInfo) map[string]gguf.Type {
	m := Model{Arch: "llama", Heads: heads, KVHeads: kvHeads, HasOutput: true}
	for _, t := range ts {
		switch {
		case contains(t.Name, "attn_v.weight"):
			m.AttnV++
		case contains(t.Name, "ffn_down"):
			m.FFNDown++
		}
	}
	p := &Planner{FileType: ft, Model: m}
	out := map[string]gguf.Type{}
	for _, t := range ts {
		out[t.Name] = p.Plan(t).Type
	}
	return out
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// layersOf lists the layers of an n-layer model whose tensor name gets typ.
func layersOf(types map[string]gguf.Type, name string, n int, typ gguf.Type) []int {
	var ls []int
	for l := 0; l < n; l++ {
		if types[fmt.Sprintf("blk.%d.%s.weight", l, name)] == typ {
			ls = append(ls, l)
		}
	}
	return ls
}

// TestMixes checks the per-tensor choices of each mix against llama.cpp's
// rules (llama_tensor_get_type) for a 32-layer Llama of 4096 wide.
func TestMixes(t *testing.T) {
	const n = 32
	ts := layerTensors(n, 4096, 11008, 1024, gguf.TypeF32)
	// use_more_bits(i, 32): i < 4, i >= 28, or (i-4)%3 == 2.
	more := []int{0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31}

	q4km := plan(FileTypeQ4_K_M, 32, 8, ts)
	require.Equal(t, gguf.TypeQ6_K, q4km["output.weight"])
	require.Equal(t, gguf.TypeQ4_K, q4km["token_embd.weight"])
	require.Equal(t, gguf.TypeF32, q4km["output_norm.weight"])
	require.Equal(t, gguf.TypeF32, q4km["blk.3.ffn_norm.weight"])
	require.Equal(t, gguf.TypeQ4_K, q4km["blk.3.attn_q.weight"])
	require.Equal(t, gguf.TypeQ4_K, q4km["blk.3.ffn_up.weight"])
	require.Equal(t, more, layersOf(q4km, "attn_v", n, gguf.TypeQ6_K))
	require.Equal(t, more, layersOf(q4km, "ffn_down", n, gguf.TypeQ6_K))

	q5km := plan(FileTypeQ5_K_M, 32, 8, ts)
	require.Equal(t, gguf.TypeQ6_K, q5km["output.weight"])
	require.Equal(t, gguf.TypeQ5_K, q5km["blk.4.attn_v.weight"])
	require.Equal(t, more, layersOf(q5km, "attn_v", n, gguf.TypeQ6_K))
	require.Equal(t, more, layersOf(q5km, "ffn_down", n, gguf.TypeQ6_K))

	q4ks := plan(FileTypeQ4_K_S, 32, 8, ts)
	require.Equal(t, []int{0, 1, 2, 3}, layersOf(q4ks, "attn_v", n, gguf.TypeQ5_K))
	require.Equal(t, []int{0, 1, 2, 3}, layersOf(q4ks, "ffn_down", n, gguf.TypeQ5_K))
	require.Equal(t, gguf.TypeQ4_K, q4ks["blk.9.ffn_down.weight"])

	q3km := plan(FileTypeQ3_K_M, 32, 8, ts)
	require.Equal(t, []int{0, 1}, layersOf(q3km, "attn_v", n, gguf.TypeQ5_K))
	require.Len(t, layersOf(q3km, "attn_v", n, gguf.TypeQ4_K), n-2)
	require.Equal(t, []int{0, 1}, layersOf(q3km, "ffn_down", n, gguf.TypeQ5_K))
	require.Len(t, layersOf(q3km, "ffn_down", n, gguf.TypeQ4_K), n-2)
	require.Equal(t, gguf.TypeQ4_K, q3km["blk.7.attn_output.weight"])
	require.Equal(t, gguf.TypeQ3_K, q3km["blk.7.attn_q.weight"])
	require.Equal(t, gguf.TypeQ6_K, q3km["output.weight"])

	q2k := plan(FileTypeQ2_K, 32, 8, ts) // n_gqa 4
	require.Len(t, layersOf(q2k, "attn_v", n, gguf.TypeQ4_K), n)
	require.Len(t, layersOf(q2k, "ffn_down", n, gguf.TypeQ3_K), n)
	require.Len(t, layersOf(q2k, "attn_output", n, gguf.TypeQ3_K), n)
	require.Len(t, layersOf(q2k, "ffn_gate", n, gguf.TypeQ2_K), n)
	q2k = plan(FileTypeQ2_K, 32, 32, ts) // n_gqa 1
	require.Len(t, layersOf(q2k, "attn_v", n, gguf.TypeQ3_K), n)

	q6k := plan(FileTypeQ6_K, 32, 8, ts)
	for name, typ := range q6k {
		if !contains(name, "norm") {
			require.Equal(t, gguf.TypeQ6_K, typ, name)
		}
	}
	q8 := plan(FileTypeQ8_0, 32, 8, ts)
	require.Equal(t, gguf.TypeQ8_0, q8["output.weight"])
	require.Equal(t, gguf.TypeQ8_0, q8["blk.0.attn_v.weight"])
	q40 := plan(FileTypeQ4_0, 32, 8, ts)
	require.Equal(t, gguf.TypeQ6_K, q40["output.weight"])
	require.Equal(t, gguf.TypeQ4_0, q40["blk.0.ffn_down.weight"])

	// IQ4_NL and IQ4_XS: attn_v Q5_K when n_gqa ≥ 4, the first eighth of
	// ffn_down Q5_K (llama.cpp: without an importance matrix), output Q6_K.
	for _, ft := range []FileType{FileTypeIQ4_NL, FileTypeIQ4_XS} {
		iq4 := plan(ft, 32, 8, ts) // n_gqa 4
		require.Equal(t, gguf.TypeQ6_K, iq4["output.weight"], ft)
		require.Equal(t, ft.Base(), iq4["token_embd.weight"], ft)
		require.Len(t, layersOf(iq4, "attn_v", n, gguf.TypeQ5_K), n, ft)
		require.Equal(t, []int{0, 1, 2, 3}, layersOf(iq4, "ffn_down", n, gguf.TypeQ5_K), ft)
		require.Len(t, layersOf(iq4, "ffn_down", n, ft.Base()), n-4, ft)
		for _, name := range []string{"attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"} {
			require.Len(t, layersOf(iq4, name, n, ft.Base()), n, "%v %s", ft, name)
		}
		iq4 = plan(ft, 32, 16, ts) // n_gqa 2
		require.Len(t, layersOf(iq4, "attn_v", n, ft.Base()), n, ft)
	}

	// F16 and BF16 are not quantized types: no per-tensor rules.
	f16 := plan(FileTypeF16, 32, 8, ts)
	require.Equal(t, gguf.TypeF16, f16["output.weight"])
	require.Equal(t, gguf.TypeF16, f16["blk.0.attn_v.weight"])
	require.Equal(t, gguf.TypeF32, f16["blk.0.attn_norm.weight"])
	bf16 := plan(FileTypeBF16, 32, 8, ts)
	require.Equal(t, gguf.TypeBF16, bf16["token_embd.weight"])
}

// TestTiedEmbeddings: without output.weight, token_embd gets the output's type.
func TestTiedEmbeddings(t *testing.T) {
	ts := layerTensors(2, 4096, 11008, 4096, gguf.TypeF16)
	ts = append(ts[:2], ts[3:]...)
	p := &Planner{FileType: FileTypeQ4_K_M, Model: Model{Arch: "llama", Heads: 32, KVHeads: 32, AttnV: 2, FFNDown: 2}}
	require.Equal(t, gguf.TypeQ6_K, p.Plan(ts[0]).Type)
}

// TestFallback: rows that do not divide into the type's blocks.
func TestFallback(t *testing.T) {
	cases := []struct {
		ft   FileType
		nx   uint64
		want gguf.Type
	}{
		{FileTypeQ2_K, 96, gguf.TypeQ4_0}, // older llama.cpp: IQ4_NL
		{FileTypeQ3_K_M, 96, gguf.TypeQ4_0},
		{FileTypeIQ4_XS, 96, gguf.TypeIQ4_NL},
		{FileTypeIQ4_XS, 48, gguf.TypeF16},
		{FileTypeQ4_K_M, 96, gguf.TypeQ5_0},
		{FileTypeQ5_K_M, 96, gguf.TypeQ5_1},
		{FileTypeQ6_K, 96, gguf.TypeQ8_0},
		{FileTypeQ4_K_M, 48, gguf.TypeF16},
		{FileTypeQ6_K, 40, gguf.TypeF16},
		{FileTypeQ8_0, 172, gguf.TypeF32}, // llama.cpp refuses; we keep F32
		{FileTypeQ4_0, 48, gguf.TypeF32},
		{FileTypeIQ4_NL, 48, gguf.TypeF32},
		{FileTypeF16, 7, gguf.TypeF16},
	}
	for _, c := range cases {
		p := &Planner{FileType: c.ft, Model: Model{Arch: "llama", Heads: 4, KVHeads: 4, AttnV: 1, FFNDown: 1, HasOutput: true}}
		ch := p.Plan(gguf.TensorInfo{Name: "blk.0.attn_q.weight", Dims: []uint64{c.nx, 64}, Type: gguf.TypeF32})
		require.Equal(t, c.want, ch.Type, "%v nx=%d", c.ft, c.nx)
		if c.want == gguf.TypeF32 {
			require.False(t, ch.Quantize)
			require.Contains(t, ch.Note, "kept F32")
		} else if c.ft != FileTypeF16 {
			require.Contains(t, ch.Note, "using "+c.want.String())
		}
	}
	// 1-D tensors and [n, 1] tensors are never quantized.
	p := &Planner{FileType: FileTypeQ4_K_M}
	require.False(t, p.Plan(gguf.TensorInfo{Name: "x.weight", Dims: []uint64{256, 1}, Type: gguf.TypeF32}).Quantize)
	require.False(t, p.Plan(gguf.TensorInfo{Name: "x.bias", Dims: []uint64{256, 256}, Type: gguf.TypeF32}).Quantize)
}
