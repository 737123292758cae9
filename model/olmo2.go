package model

import (
	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Olmo2 is OLMo 2: no norms before attention and the feed-forward, RMSNorm of
// their outputs instead, and q/k RMSNorm over the whole projection; NeoX RoPE.
type Olmo2 struct {
	decoder
	w olmo2Weights
}

type olmo2Weights struct {
	embeddings
	Layers []olmo2Layer `gguf:"blk.%d"`
}

type olmo2Layer struct {
	attnProj
	qkNorm
	gatedFFN
	postNorms
}

func loadOlmo2(f *gguf.File, b backend.Backend, progress Progress) (Model, []backend.Buffer, error) {
	h, err := readHyper(f, "olmo2")
	if err != nil {
		return nil, nil, err
	}
	ropeMode(h, backend.RoPENeoX)
	h.qNormSize, h.kNormSize = h.QDim(), h.KVDim()
	h.Features = append(h.Features, "post-norms only", "q/k RMSNorm over the whole projection")
	m := &Olmo2{decoder: newDecoder(b, h, func(int) attnLayer { return attnLayer{rope: &h.RoPE} })}
	bufs, err := bindWeights(f, b, h, progress, &m.w)
	return m, bufs, err
}

// Forward is the OLMo 2 forward pass.
func (m *Olmo2) Forward(s *State, kv *Cache) {
	b, h, w := m.b, m.h, &m.w
	x, xb := s.act("x"), s.act("xb")

	m.embed(s, w.TokenEmbd, x)
	for l := range w.Layers {
		layer := &w.Layers[l]
		attn := layer.attnProj.weights()
		attn.QNorm, attn.KNorm = layer.QNorm, layer.KNorm

		// x += rmsnorm(attention(x)); x += rmsnorm(ffn(x))
		m.attention(s, kv, l, x, xb, attn, m.layers[l])
		b.RMSNorm(xb, xb, layer.PostAttnNorm, h.NormEps)
		b.Add(x, x, xb)
		m.swiGLU(s, x, xb, layer.Gate, layer.Up, layer.Down)
		b.RMSNorm(xb, xb, layer.PostFFNNorm, h.NormEps)
		b.Add(x, x, xb)
	}
	m.logits(s, x, w.Output, m.rmsNormed(w.OutputNorm))
}
