package model

import (
	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// GPT2 is GPT-2: learned position embeddings added to the token embeddings,
// LayerNorm with biases, a fused qkv projection with bias, biases on every
// projection, an ungated GELU feed-forward, no RoPE.
type GPT2 struct {
	decoder
	w gpt2Weights
}

type gpt2Weights struct {
	TokenEmbd    backend.Tensor `gguf:"token_embd.weight" shape:"vocab,dim"`
	PositionEmbd backend.Tensor `gguf:"position_embd.weight" shape:"ctx,dim"`
	OutputNorm   backend.Tensor `gguf:"output_norm.weight" shape:"dim"`
	OutputNormB  backend.Tensor `gguf:"output_norm.bias" shape:"dim"`
	Output       backend.Tensor `gguf:"output.weight,token_embd.weight" shape:"vocab,dim"`
	Layers       []gpt2Layer    `gguf:"blk.%d"`
}

type gpt2Layer struct {
	AttnNorm  backend.Tensor `gguf:"attn_norm.weight" shape:"dim"`
	AttnNormB backend.Tensor `gguf:"attn_norm.bias" shape:"dim"`
	QKV       backend.Tensor `gguf:"attn_qkv.weight" shape:"qkvdim,dim"`
	QKVB      backend.Tensor `gguf:"attn_qkv.bias" shape:"qkvdim"`
	Wo        backend.Tensor `gguf:"attn_output.weight" shape:"dim,qdim"`
	Bo        backend.Tensor `gguf:"attn_output.bias" shape:"dim"`
	FFNNorm   backend.Tensor `gguf:"ffn_norm.weight" shape:"dim"`
	FFNNormB  backend.Tensor `gguf:"ffn_norm.bias" shape:"dim"`
	Up        backend.Tensor `gguf:"ffn_up.weight" shape:"ffn,dim"`
	UpB       backend.Tensor `gguf:"ffn_up.bias" shape:"ffn"`
	Down      backend.Tensor `gguf:"ffn_down.weight" shape:"dim,ffn"`
	DownB     backend.Tensor `gguf:"ffn_down.bias" shape:"dim"`
}

func loadGPT2(f *gguf.File, b backend.Backend, progress Progress) (Model, []backend.Buffer, error) {
	h, err := readHyperNoRoPE(f, "gpt2")
	if err != nil {
		return nil, nil, err
	}
	m := meta{f}
	if h.NormEps, err = m.positive("gpt2.attention.layer_norm_epsilon", 1e-5); err != nil {
		return nil, nil, err
	}
	h.Features = append(h.Features, "learned positions", "LayerNorm", "fused qkv", "GELU")
	g := &GPT2{decoder: newDecoder(b, h, func(int) attnLayer { return attnLayer{} })}
	bufs, err := bindWeights(f, b, h, progress, &g.w)
	return g, bufs, err
}

// Forward is the GPT-2 forward pass.
func (m *GPT2) Forward(s *State, kv *Cache) {
	b, h, w := m.b, m.h, &m.w
	x, xb, xb2, hidden := s.act("x"), s.act("xb"), s.act("xb2"), s.act("gate")
	q, kv1 := h.QDim(), h.QDim()+h.KVDim()

	// x = token_embd[token] + position_embd[pos]
	m.embed(s, w.TokenEmbd, x)
	b.GetRows(xb, w.PositionEmbd, s.pos.Head(s.n))
	b.Add(x, x, xb)
	for l := range w.Layers {
		layer := &w.Layers[l]
		attn := attnWeights{
			Wq: layer.QKV.Slice(0, q), Wk: layer.QKV.Slice(q, kv1), Wv: layer.QKV.Slice(kv1, layer.QKV.Rows), Wo: layer.Wo,
			Bq: layer.QKVB.Columns(0, q), Bk: layer.QKVB.Columns(q, kv1), Bv: layer.QKVB.Columns(kv1, layer.QKVB.Cols), Bo: layer.Bo,
		}
		// x += attention(layernorm(x))
		b.LayerNorm(xb, x, layer.AttnNorm, layer.AttnNormB, h.NormEps)
		m.attention(s, kv, l, xb, xb2, attn, m.layers[l])
		b.Add(x, x, xb2)
		// x += down(gelu(up·xb + b_up)) + b_down, xb = layernorm(x)
		b.LayerNorm(xb, x, layer.FFNNorm, layer.FFNNormB, h.NormEps)
		b.MatMul(hidden, layer.Up, xb)
		b.AddRow(hidden, hidden, layer.UpB)
		b.GELU(hidden, hidden)
		b.MatMul(xb2, layer.Down, hidden)
		b.AddRow(xb2, xb2, layer.DownB)
		b.Add(x, x, xb2)
	}
	m.logits(s, x, w.Output, func(dst, src backend.Tensor) { b.LayerNorm(dst, src, w.OutputNorm, w.OutputNormB, h.NormEps) })
}
