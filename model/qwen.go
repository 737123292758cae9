package model

import (
	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Qwen2 is Llama with biases on the q, k and v projections and NeoX RoPE.
// Qwen3 drops the biases and norms each head of q and k before RoPE.
type Qwen struct {
	decoder
	w qwenWeights
}

type qwenWeights struct {
	embeddings
	Layers []qwenLayer `gguf:"blk.%d"`
}

type qwenLayer struct {
	preNorms
	attnProj
	gatedFFN
	// Qwen2's biases.
	Bq backend.Tensor `gguf:"attn_q.bias" shape:"qdim" optional:"true"`
	Bk backend.Tensor `gguf:"attn_k.bias" shape:"kvdim" optional:"true"`
	Bv backend.Tensor `gguf:"attn_v.bias" shape:"kvdim" optional:"true"`
	// Qwen3's per-head q/k norms.
	QNorm backend.Tensor `gguf:"attn_q_norm.weight" shape:"qnorm" optional:"true"`
	KNorm backend.Tensor `gguf:"attn_k_norm.weight" shape:"knorm" optional:"true"`
}

func loadQwen2(f *gguf.File, b backend.Backend, progress Progress) (Model, []backend.Buffer, error) {
	return loadQwen(f, b, progress, "qwen2")
}

func loadQwen3(f *gguf.File, b backend.Backend, progress Progress) (Model, []backend.Buffer, error) {
	return loadQwen(f, b, progress, "qwen3")
}

func loadQwen(f *gguf.File, b backend.Backend, progress Progress, arch string) (Model, []backend.Buffer, error) {
	h, err := readHyper(f, arch)
	if err != nil {
		return nil, nil, err
	}
	ropeMode(h, backend.RoPENeoX)
	h.qNormSize, h.kNormSize = h.HeadDim, h.HeadDim
	m := &Qwen{decoder: newDecoder(b, h, func(int) attnLayer { return attnLayer{rope: &h.RoPE} })}
	bufs, err := bindWeights(f, b, h, progress, &m.w)
	if err != nil {
		return nil, nil, err
	}
	// Each variant needs all of its extras: biases for Qwen2, norms for Qwen3.
	for i, layer := range m.w.Layers {
		if err := requireTensors(arch, i, map[string]backend.Tensor{"attn_q.bias": layer.Bq, "attn_k.bias": layer.Bk, "attn_v.bias": layer.Bv}, arch == "qwen2"); err != nil {
			return nil, nil, freeAll(b, bufs, err)
		}
		if err := requireTensors(arch, i, map[string]backend.Tensor{"attn_q_norm.weight": layer.QNorm, "attn_k_norm.weight": layer.KNorm}, arch == "qwen3"); err != nil {
			return nil, nil, freeAll(b, bufs, err)
		}
	}
	if arch == "qwen2" {
		h.Features = append(h.Features, "q/k/v biases")
	} else {
		h.Features = append(h.Features, "per-head q/k RMSNorm")
	}
	return m, bufs, nil
}

// Forward is the Qwen forward pass: Llama's, with the extras in the attention.
func (m *Qwen) Forward(s *State, kv *Cache) {
	x := m.blocks(s, kv)
	m.logits(s, x, m.w.Output, m.rmsNormed(m.w.OutputNorm))
}

// Hidden is the forward pass of a Qwen used as an embedder (Qwen3-Embedding):
// the blocks over whole inputs, causal, and the final norm of every token.
func (m *Qwen) Hidden(s *EmbedState) backend.Tensor {
	x := m.blocks(s.State, s.Cache())
	xb := s.act("xb")
	m.b.RMSNorm(xb, x, m.w.OutputNorm, m.h.NormEps)
	return xb
}

// blocks runs the embedding and the layers and returns the residual stream.
func (m *Qwen) blocks(s *State, kv *Cache) backend.Tensor {
	b, h, w := m.b, m.h, &m.w
	x, xb, xb2 := s.act("x"), s.act("xb"), s.act("xb2")

	m.embed(s, w.TokenEmbd, x)
	for l := range w.Layers {
		layer := &w.Layers[l]
		attn := layer.attnProj.weights()
		attn.Bq, attn.Bk, attn.Bv = layer.Bq, layer.Bk, layer.Bv
		attn.QNorm, attn.KNorm, attn.perHeadNorm = layer.QNorm, layer.KNorm, true

		b.RMSNorm(xb, x, layer.AttnNorm, h.NormEps)
		m.attention(s, kv, l, xb, xb2, attn, m.layers[l])
		b.Add(x, x, xb2)
		b.RMSNorm(xb, x, layer.FFNNorm, h.NormEps)
		m.swiGLU(s, xb, xb2, layer.Gate, layer.Up, layer.Down)
		b.Add(x, x, xb2)
	}
	return x
}
