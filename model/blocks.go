package model

import (
	"math"

	"github.com/conveyor-llm/conveyor/backend"
)

// The weight groups most architectures share, bound by name (see weights.go).

// embeddings are the token embedding, the final norm and the output matrix
// (the embedding itself when the file has no output.weight: tied).
type embeddings struct {
	TokenEmbd  backend.Tensor `gguf:"token_embd.weight" shape:"vocab,dim"`
	OutputNorm backend.Tensor `gguf:"output_norm.weight" shape:"dim"`
	Output     backend.Tensor `gguf:"output.weight,token_embd.weight" shape:"vocab,dim"`
}

// attnProj are the separate q, k, v and output projections.
type attnProj struct {
	Wq backend.Tensor `gguf:"attn_q.weight" shape:"qdim,dim"`
	Wk backend.Tensor `gguf:"attn_k.weight" shape:"kvdim,dim"`
	Wv backend.Tensor `gguf:"attn_v.weight" shape:"kvdim,dim"`
	Wo backend.Tensor `gguf:"attn_output.weight" shape:"dim,qdim"`
}

func (p *attnProj) weights() attnWeights { return attnWeights{Wq: p.Wq, Wk: p.Wk, Wv: p.Wv, Wo: p.Wo} }

// qkNorm are RMSNorm weights for q and k: per head (Qwen 3, Gemma 3: shape
// head dim) or over the whole projection (OLMo 2), as the sizes "qnorm" and
// "knorm" say.
type qkNorm struct {
	QNorm backend.Tensor `gguf:"attn_q_norm.weight" shape:"qnorm"`
	KNorm backend.Tensor `gguf:"attn_k_norm.weight" shape:"knorm"`
}

// gatedFFN is the gated feed-forward: down(act(gate·x) * up·x).
type gatedFFN struct {
	Gate backend.Tensor `gguf:"ffn_gate.weight" shape:"ffn,dim"`
	Up   backend.Tensor `gguf:"ffn_up.weight" shape:"ffn,dim"`
	Down backend.Tensor `gguf:"ffn_down.weight" shape:"dim,ffn"`
}

// preNorms are the RMSNorms before attention and before the feed-forward.
type preNorms struct {
	AttnNorm backend.Tensor `gguf:"attn_norm.weight" shape:"dim"`
	FFNNorm  backend.Tensor `gguf:"ffn_norm.weight" shape:"dim"`
}

// postNorms are the RMSNorms of the attention and feed-forward outputs (Gemma, OLMo 2).
type postNorms struct {
	PostAttnNorm backend.Tensor `gguf:"post_attention_norm.weight" shape:"dim"`
	PostFFNNorm  backend.Tensor `gguf:"post_ffw_norm.weight" shape:"dim"`
}

// attnWeights is one layer's attention as the shared block uses it; biases and
// q/k norms are zero Tensors where the architecture has none.
type attnWeights struct {
	Wq, Wk, Wv, Wo backend.Tensor
	Bq, Bk, Bv, Bo backend.Tensor
	QNorm, KNorm   backend.Tensor
	perHeadNorm    bool           // QNorm/KNorm apply to each head rather than the whole projection
	Sinks          backend.Tensor // attention sinks, one logit per query head (gpt-oss)
}

// attnLayer is how one layer attends: its RoPE (nil: none, a NoPE layer),
// sliding window and score soft-cap.
type attnLayer struct {
	rope    *backend.RoPE
	window  int
	softCap float32
	// preScale scales q by the attention scale before attending (with scale 1),
	// where llama.cpp's graph does so (Gemma): the rounding then matches.
	preScale bool
}

// decoder holds what every architecture's forward pass uses: the backend, the
// hyperparameters, and the shared blocks below.
type decoder struct {
	b      backend.Backend
	h      *Hyper
	layers []attnLayer // how each layer attends
	place  *Placement  // the backends of the parts, when split (LoadPlaced); else all on b
}

// part is the decoder and state for backend b, moving the hidden state x
// there from the part d computes on when b is another backend.
func (d *decoder) part(top, s *State, x backend.Tensor, b backend.Backend) (*decoder, *State, backend.Tensor) {
	if b == d.b {
		return d, s, x
	}
	return d.hop(top, s, x, b)
}

// inputOn, layerOn and outputOn are the backends of the parts.
func (d *decoder) inputOn() backend.Backend {
	if d.place == nil {
		return d.b
	}
	return d.place.Input
}

func (d *decoder) layerOn(l int) backend.Backend {
	if d.place == nil {
		return d.b
	}
	return d.place.Layers[l]
}

func (d *decoder) outputOn() backend.Backend {
	if d.place == nil {
		return d.b
	}
	return d.place.Output
}

// Hyper is the model's hyperparameters.
func (d *decoder) Hyper() *Hyper { return d.h }

// embed looks up the batch's token embeddings into x.
func (d *decoder) embed(s *State, table, x backend.Tensor) {
	d.b.GetRows(x, table, s.tokens.Head(s.n))
}

// attention computes out = Wo · attend(q, k, v) (+ bias) for the normed input in,
// storing this batch's keys and values in layer l's cache.
func (d *decoder) attention(s *State, kv *Cache, l int, in, out backend.Tensor, w attnWeights, a attnLayer) {
	b, h := d.b, d.h
	q, k, v, att := s.act("q"), s.act("k"), s.act("v"), s.act("att")
	pos := s.pos.Head(s.n)

	b.MatMul(q, w.Wq, in)
	b.MatMul(k, w.Wk, in)
	b.MatMul(v, w.Wv, in)
	if w.Bq.Buf != nil {
		b.AddRow(q, q, w.Bq)
		b.AddRow(k, k, w.Bk)
		b.AddRow(v, v, w.Bv)
	}
	if w.QNorm.Buf != nil {
		qn, kn := q, k
		if w.perHeadNorm {
			qn, kn = q.Reshape(s.n*h.Heads, h.HeadDim), k.Reshape(s.n*h.KVHeads, h.HeadDim)
		}
		b.RMSNorm(qn, qn, w.QNorm, h.NormEps)
		b.RMSNorm(kn, kn, w.KNorm, h.NormEps)
	}
	if a.rope != nil {
		b.RoPE(q, pos, *a.rope)
		b.RoPE(k, pos, *a.rope)
	}
	scale := h.AttnScale
	if a.preScale {
		b.Scale(q, q, scale)
		scale = 1
	}
	att = storeAndAttend(b, s, kv, l, q, k, v, att, backend.Attention{
		Heads: h.Heads, KVHeads: h.KVHeads, HeadDim: h.HeadDim, Context: kv.Context,
		Scale: scale, SoftCap: a.softCap, Window: a.window, Sinks: w.Sinks,
	})
	b.MatMul(out, w.Wo, att)
	if w.Bo.Buf != nil {
		b.AddRow(out, out, w.Bo)
	}
}

// swiGLU computes out = down(silu(gate·in) * up·in).
func (d *decoder) swiGLU(s *State, in, out backend.Tensor, gate, up, down backend.Tensor) {
	g, u := s.act("gate"), s.act("up")
	d.b.MatMul(g, gate, in)
	d.b.MatMul(u, up, in)
	d.b.SwiGLU(g, g, u)
	d.b.MatMul(out, down, g)
}

// geGLU computes out = down(gelu(gate·in) * up·in).
func (d *decoder) geGLU(s *State, in, out backend.Tensor, f gatedFFN) {
	g, u := s.act("gate"), s.act("up")
	d.b.MatMul(g, f.Gate, in)
	d.b.MatMul(u, f.Up, in)
	d.b.GeGLU(g, g, u)
	d.b.MatMul(out, f.Down, g)
}

// logits selects the rows that want logits, applies the final norm (norm
// writes its output into the second tensor) and the output matrix.
func (d *decoder) logits(s *State, x, output backend.Tensor, norm func(dst, src backend.Tensor)) backend.Tensor {
	outX, outXB := s.act("out.x"), s.act("out.xb")
	d.b.GetRows(outX, x, s.outRows.Head(s.outputs))
	norm(outXB, outX)
	logits := s.Logits.Slice(0, s.outputs)
	d.b.MatMul(logits, output, outXB)
	return logits
}

// rmsNormed is the final RMSNorm with weight w.
func (d *decoder) rmsNormed(w backend.Tensor) func(dst, src backend.Tensor) {
	return func(dst, src backend.Tensor) { d.b.RMSNorm(dst, src, w, d.h.NormEps) }
}

func invSqrt(n int) float32 { return float32(1 / math.Sqrt(float64(n))) }
