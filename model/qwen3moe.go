package model

import (
	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Qwen3MoE is Qwen 3's attention (per-head q/k RMSNorm, NeoX RoPE) with a
// mixture of experts in every feed-forward (Qwen3-30B-A3B): softmax over the
// experts, the top ExpertsUsed renormalised.
type Qwen3MoE struct {
	decoder
	w qwen3MoEWeights
}

type qwen3MoEWeights struct {
	embeddings
	Layers []qwen3MoELayer `gguf:"blk.%d"`
}

type qwen3MoELayer struct {
	preNorms
	attnProj
	qkNorm
	moeFFN
}

func loadQwen3MoE(f *gguf.File, b backend.Backend, progress Progress) (Model, []backend.Buffer, error) {
	h, err := readHyper(f, "qwen3moe")
	if err != nil {
		return nil, nil, err
	}
	ropeMode(h, backend.RoPENeoX)
	h.qNormSize, h.kNormSize = h.HeadDim, h.HeadDim
	h.Features = append(h.Features, "per-head q/k RMSNorm")
	if err := readExperts(f, h, "softmax gating, top-k renormalised"); err != nil {
		return nil, nil, err
	}
	m := &Qwen3MoE{decoder: newDecoder(b, h, func(int) attnLayer { return attnLayer{rope: &h.RoPE} })}
	bufs, err := bindWeights(f, b, h, progress, &m.w)
	return m, bufs, err
}

// Forward is Qwen 3's forward pass with the MoE feed-forward.
func (m *Qwen3MoE) Forward(s *State, kv *Cache) {
	b, h, w := m.b, m.h, &m.w
	x, xb, xb2 := s.act("x"), s.act("xb"), s.act("xb2")

	m.embed(s, w.TokenEmbd, x)
	for l := range w.Layers {
		layer := &w.Layers[l]
		attn := layer.attnProj.weights()
		attn.QNorm, attn.KNorm, attn.perHeadNorm = layer.QNorm, layer.KNorm, true
		b.RMSNorm(xb, x, layer.AttnNorm, h.NormEps)
		m.attention(s, kv, l, xb, xb2, attn, m.layers[l])
		b.Add(x, x, xb2)
		b.RMSNorm(xb, x, layer.FFNNorm, h.NormEps)
		m.moe(s, xb, xb2, &layer.moeFFN, backend.GatingSoftmax)
		b.Add(x, x, xb2)
	}
	m.logits(s, x, w.Output, m.rmsNormed(w.OutputNorm))
}
