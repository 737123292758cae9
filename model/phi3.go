package model

import (
	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Phi3 is Llama with fused weights: one attn_qkv matrix (rows: q, then k, then
// v) and one ffn_up matrix holding the gate rows, then the up rows; NeoX RoPE.
// The fused matrices are split into row views at load, so the forward pass is
// Llama's.
type Phi3 struct {
	decoder
	w phi3Weights
}

type phi3Weights struct {
	embeddings
	Layers []phi3Layer `gguf:"blk.%d"`
}

type phi3Layer struct {
	preNorms
	QKV    backend.Tensor `gguf:"attn_qkv.weight" shape:"qkvdim,dim"`
	Wo     backend.Tensor `gguf:"attn_output.weight" shape:"dim,qdim"`
	GateUp backend.Tensor `gguf:"ffn_up.weight" shape:"ffn2,dim"`
	Down   backend.Tensor `gguf:"ffn_down.weight" shape:"dim,ffn"`
}

func loadPhi3(f *gguf.File, b backend.Backend, progress Progress) (Model, []backend.Buffer, error) {
	h, err := readHyper(f, "phi3")
	if err != nil {
		return nil, nil, err
	}
	ropeMode(h, backend.RoPENeoX)
	h.Features = append(h.Features, "fused qkv", "fused gate/up")
	m := &Phi3{decoder: newDecoder(b, h, func(int) attnLayer { return attnLayer{rope: &h.RoPE} })}
	bufs, err := bindWeights(f, b, h, progress, &m.w)
	return m, bufs, err
}

// Forward is the Phi-3 forward pass.
func (m *Phi3) Forward(s *State, kv *Cache) {
	b, h, w := m.b, m.h, &m.w
	x, xb, xb2 := s.act("x"), s.act("xb"), s.act("xb2")
	q, kv1 := h.QDim(), h.QDim()+h.KVDim()

	m.embed(s, w.TokenEmbd, x)
	for l := range w.Layers {
		layer := &w.Layers[l]
		attn := attnWeights{Wq: layer.QKV.Slice(0, q), Wk: layer.QKV.Slice(q, kv1), Wv: layer.QKV.Slice(kv1, layer.QKV.Rows), Wo: layer.Wo}

		b.RMSNorm(xb, x, layer.AttnNorm, h.NormEps)
		m.attention(s, kv, l, xb, xb2, attn, m.layers[l])
		b.Add(x, x, xb2)
		b.RMSNorm(xb, x, layer.FFNNorm, h.NormEps)
		m.swiGLU(s, xb, xb2, layer.GateUp.Slice(0, h.FFN), layer.GateUp.Slice(h.FFN, 2*h.FFN), layer.Down)
		b.Add(x, x, xb2)
	}
	m.logits(s, x, w.Output, m.rmsNormed(w.OutputNorm))
}
