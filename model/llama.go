package model

import (
	"math"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Llama is the Llama architecture (Llama 1/2/3, TinyLlama, SmolLM, Mistral-style):
// pre-norm blocks of grouped-query attention with RoPE and a SwiGLU feed-forward.
type Llama struct {
	h *Hyper
	b backend.Backend
	w llamaWeights
}

type llamaWeights struct {
	TokenEmbd  backend.Tensor `gguf:"token_embd.weight" shape:"vocab,dim"`
	OutputNorm backend.Tensor `gguf:"output_norm.weight" shape:"dim"`
	Output     backend.Tensor `gguf:"output.weight,token_embd.weight" shape:"vocab,dim"`
	Layers     []llamaLayer   `gguf:"blk.%d"`
}

type llamaLayer struct {
	AttnNorm backend.Tensor `gguf:"attn_norm.weight" shape:"dim"`
	Wq       backend.Tensor `gguf:"attn_q.weight" shape:"qdim,dim"`
	Wk       backend.Tensor `gguf:"attn_k.weight" shape:"kvdim,dim"`
	Wv       backend.Tensor `gguf:"attn_v.weight" shape:"kvdim,dim"`
	Wo       backend.Tensor `gguf:"attn_output.weight" shape:"dim,qdim"`
	FFNNorm  backend.Tensor `gguf:"ffn_norm.weight" shape:"dim"`
	FFNGate  backend.Tensor `gguf:"ffn_gate.weight" shape:"ffn,dim"`
	FFNUp    backend.Tensor `gguf:"ffn_up.weight" shape:"ffn,dim"`
	FFNDown  backend.Tensor `gguf:"ffn_down.weight" shape:"dim,ffn"`
}

func loadLlama(f *gguf.File, b backend.Backend, progress Progress) (Model, []backend.Buffer, error) {
	h, err := readHyper(f, "llama")
	if err != nil {
		return nil, nil, err
	}
	if h.Vocab, err = vocabSize(f, "llama"); err != nil {
		return nil, nil, err
	}
	m := &Llama{h: h, b: b}
	l, err := newWeightLoader(f, b, h.sizes(), h.Layers, progress)
	if err != nil {
		return nil, nil, err
	}
	if err := l.bind(&m.w); err != nil {
		for _, buf := range l.owned {
			b.Free(buf)
		}
		return nil, nil, err
	}
	return m, l.owned, nil
}

// Hyper is the model's hyperparameters.
func (m *Llama) Hyper() *Hyper { return m.h }

// Activations names the scratch tensors Forward uses and their widths.
func (h *Hyper) Activations() map[string]int {
	return map[string]int{
		"x": h.Dim, "xb": h.Dim, "xb2": h.Dim,
		"q": h.QDim(), "k": h.KVDim(), "v": h.KVDim(), "att": h.QDim(),
		"gate": h.FFN, "up": h.FFN,
		"out.x": h.Dim, "out.xb": h.Dim,
	}
}

// Forward is the Llama forward pass, one named op at a time.
func (m *Llama) Forward(s *State, kv *Cache) {
	b, h, w := m.b, m.h, &m.w
	x, xb, xb2 := s.act("x"), s.act("xb"), s.act("xb2")
	q, k, v, att := s.act("q"), s.act("k"), s.act("v"), s.act("att")
	gate, up := s.act("gate"), s.act("up")
	attn := backend.Attention{Heads: h.Heads, KVHeads: h.KVHeads, HeadDim: h.HeadDim,
		Context: kv.Context, Scale: float32(1 / math.Sqrt(float64(h.HeadDim)))}

	b.GetRows(x, w.TokenEmbd, s.tokens.Head(s.n))
	for l, layer := range w.Layers {
		// Attention: x += Wo · attend(rope(Wq·xb), rope(Wk·xb), Wv·xb)
		b.RMSNorm(xb, x, layer.AttnNorm, h.NormEps)
		b.MatMul(q, layer.Wq, xb)
		b.MatMul(k, layer.Wk, xb)
		b.MatMul(v, layer.Wv, xb)
		b.RoPE(q, s.pos.Head(s.n), h.RoPE)
		b.RoPE(k, s.pos.Head(s.n), h.RoPE)
		b.KVWrite(kv.K[l], k, s.cacheRows.Head(s.n))
		b.KVWrite(kv.V[l], v, s.cacheRows.Head(s.n))
		b.Attend(att, q, kv.K[l], kv.V[l], s.pos.Head(s.n), s.seq.Head(s.n), attn)
		b.MatMul(xb2, layer.Wo, att)
		b.Add(x, x, xb2)

		// Feed-forward: x += Wdown · (silu(Wgate·xb) * Wup·xb)
		b.RMSNorm(xb, x, layer.FFNNorm, h.NormEps)
		b.MatMul(gate, layer.FFNGate, xb)
		b.MatMul(up, layer.FFNUp, xb)
		b.SwiGLU(gate, gate, up)
		b.MatMul(xb2, layer.FFNDown, gate)
		b.Add(x, x, xb2)
	}

	// Logits for the rows that want them.
	outX, outXB := s.act("out.x"), s.act("out.xb")
	b.GetRows(outX, x, s.outRows.Head(s.outputs))
	b.RMSNorm(outXB, outX, w.OutputNorm, h.NormEps)
	b.MatMul(s.Logits.Slice(0, s.outputs), w.Output, outXB)
}

// sizes are the names the weight shapes are written in.
func (h *Hyper) sizes() map[string]int {
	return map[string]int{"dim": h.Dim, "qdim": h.QDim(), "kvdim": h.KVDim(), "ffn": h.FFN, "vocab": h.Vocab}
}
