package model

import (
	"fmt"
	"math"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// Bert is the BERT encoder (BGE, MiniLM, E5, bge-reranker as llama.cpp
// converts it) and its nomic-bert variant. Every token attends to every token
// of its input; blocks are post-LayerNorm:
//
//	x = LN(token_embd[id] + token_types[0] + position_embd[t])
//	h = LN(Wo·attend(Wq·x+bq, Wk·x+bk, Wv·x+bv) + bo + x)
//	x = LN(down(gelu(up·h + b_up)) + b_down + h)
//
// nomic-bert has no position embeddings but NeoX RoPE on q and k, a fused qkv
// projection without biases, no output bias, and a SwiGLU feed-forward.
// A reranker adds the classification head cls (dense, tanh) and cls.output.
//
// There are no logits: Forward panics, and an encoder is used through Hidden.
type Bert struct {
	decoder
	nomic bool
	w     bertWeights
	// typeRow is row 0 of token_types as F32 (llama.cpp always uses type 0).
	typeRow backend.Tensor
}

type bertWeights struct {
	TokenEmbd    backend.Tensor `gguf:"token_embd.weight" shape:"vocab,dim"`
	PositionEmbd backend.Tensor `gguf:"position_embd.weight" shape:"ctx,dim" optional:"true"`
	EmbNorm      backend.Tensor `gguf:"token_embd_norm.weight" shape:"dim"`
	EmbNormB     backend.Tensor `gguf:"token_embd_norm.bias" shape:"dim"`
	// The classification head of rerankers.
	Cls     backend.Tensor `gguf:"cls.weight" shape:"dim,dim" optional:"true"`
	ClsB    backend.Tensor `gguf:"cls.bias" shape:"dim" optional:"true"`
	ClsOut  backend.Tensor `gguf:"cls.output.weight" shape:"1,dim" optional:"true"`
	ClsOutB backend.Tensor `gguf:"cls.output.bias" shape:"1" optional:"true"`
	Layers  []bertLayer    `gguf:"blk.%d"`
}

type bertLayer struct {
	// bert: separate projections with biases.
	Wq backend.Tensor `gguf:"attn_q.weight" shape:"qdim,dim" optional:"true"`
	Bq backend.Tensor `gguf:"attn_q.bias" shape:"qdim" optional:"true"`
	Wk backend.Tensor `gguf:"attn_k.weight" shape:"kvdim,dim" optional:"true"`
	Bk backend.Tensor `gguf:"attn_k.bias" shape:"kvdim" optional:"true"`
	Wv backend.Tensor `gguf:"attn_v.weight" shape:"kvdim,dim" optional:"true"`
	Bv backend.Tensor `gguf:"attn_v.bias" shape:"kvdim" optional:"true"`
	// nomic-bert: fused, no biases.
	QKV backend.Tensor `gguf:"attn_qkv.weight" shape:"qkvdim,dim" optional:"true"`

	Wo           backend.Tensor `gguf:"attn_output.weight" shape:"dim,qdim"`
	Bo           backend.Tensor `gguf:"attn_output.bias" shape:"dim" optional:"true"`
	AttnOutNorm  backend.Tensor `gguf:"attn_output_norm.weight" shape:"dim"`
	AttnOutNormB backend.Tensor `gguf:"attn_output_norm.bias" shape:"dim"`

	Up    backend.Tensor `gguf:"ffn_up.weight" shape:"ffn,dim"`
	UpB   backend.Tensor `gguf:"ffn_up.bias" shape:"ffn" optional:"true"`
	Gate  backend.Tensor `gguf:"ffn_gate.weight" shape:"ffn,dim" optional:"true"`
	Down  backend.Tensor `gguf:"ffn_down.weight" shape:"dim,ffn"`
	DownB backend.Tensor `gguf:"ffn_down.bias" shape:"dim" optional:"true"`

	OutNorm  backend.Tensor `gguf:"layer_output_norm.weight" shape:"dim"`
	OutNormB backend.Tensor `gguf:"layer_output_norm.bias" shape:"dim"`
}

func loadBert(f *gguf.File, b backend.Backend, progress Progress) (Model, []backend.Buffer, error) {
	return loadEncoder(f, b, progress, "bert")
}

func loadNomicBert(f *gguf.File, b backend.Backend, progress Progress) (Model, []backend.Buffer, error) {
	return loadEncoder(f, b, progress, "nomic-bert")
}

func loadEncoder(f *gguf.File, b backend.Backend, progress Progress, arch string) (Model, []backend.Buffer, error) {
	nomic := arch == "nomic-bert"
	var h *Hyper
	var err error
	if nomic {
		h, err = readHyper(f, arch)
	} else {
		h, err = readHyperNoRoPE(f, arch)
	}
	if err != nil {
		return nil, nil, err
	}
	if h.NormEps, err = (meta{f}).float(arch+".attention.layer_norm_epsilon", 1e-12); err != nil {
		return nil, nil, err
	}
	if causal, ok := f.Lookup(arch + ".attention.causal"); ok {
		if c, err := causal.Bool(); err != nil || c {
			return nil, nil, fmt.Errorf("model: %s: key %q must be false (causal encoders are not supported)", arch, arch+".attention.causal")
		}
	}
	if nomic {
		ropeMode(h, backend.RoPENeoX)
		h.Features = append(h.Features, "encoder (bidirectional attention)", "fused qkv", "SwiGLU", "post-LayerNorm")
	} else {
		h.Features = append(h.Features, "encoder (bidirectional attention)", "learned positions", "post-LayerNorm", "GELU")
	}
	m := &Bert{decoder: newDecoder(b, h, func(int) attnLayer { return attnLayer{} }), nomic: nomic}
	bufs, err := bindWeights(f, b, h, progress, &m.w)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (Model, []backend.Buffer, error) { return nil, nil, freeAll(b, bufs, err) }
	if (m.w.PositionEmbd.Buf == nil) != nomic {
		return fail(fmt.Errorf("model: %s: position_embd.weight is %s", arch, map[bool]string{true: "unexpected", false: "missing"}[nomic]))
	}
	for i, l := range m.w.Layers {
		if err := requireTensors(arch, i, map[string]backend.Tensor{"attn_qkv.weight": l.QKV}, nomic); err != nil {
			return fail(err)
		}
		if err := requireTensors(arch, i, map[string]backend.Tensor{"ffn_gate.weight": l.Gate}, nomic); err != nil {
			return fail(err)
		}
		if err := requireTensors(arch, i, map[string]backend.Tensor{
			"attn_q.weight": l.Wq, "attn_k.weight": l.Wk, "attn_v.weight": l.Wv,
			"attn_q.bias": l.Bq, "attn_k.bias": l.Bk, "attn_v.bias": l.Bv, "attn_output.bias": l.Bo,
			"ffn_up.bias": l.UpB, "ffn_down.bias": l.DownB}, !nomic); err != nil {
			return fail(err)
		}
	}
	if (m.w.Cls.Buf == nil) != (m.w.ClsB.Buf == nil) || (m.w.ClsOut.Buf == nil) != (m.w.ClsOutB.Buf == nil) {
		return fail(fmt.Errorf("model: %s: the classification head needs both weight and bias", arch))
	}
	if m.w.ClsOut.Buf != nil {
		h.Features = append(h.Features, "classification head")
	}
	row, buf, err := typeRow(f, b, h.Dim)
	if err != nil {
		return fail(err)
	}
	m.typeRow = row
	return m, append(bufs, buf), nil
}

// typeRow copies row 0 of token_types.weight to the backend as F32.
func typeRow(f *gguf.File, b backend.Backend, dim int) (backend.Tensor, backend.Buffer, error) {
	info, ok := f.Tensor("token_types.weight")
	if !ok {
		return backend.Tensor{}, nil, fmt.Errorf("model: missing tensor %q", "token_types.weight")
	}
	if len(info.Dims) < 1 || info.Dims[0] != uint64(dim) {
		return backend.Tensor{}, nil, fmt.Errorf("model: tensor %q has shape %v, want rows of %d", info.Name, info.Dims, dim)
	}
	format, err := kernels.FormatOf(info.Type)
	if err != nil {
		return backend.Tensor{}, nil, fmt.Errorf("model: tensor %q: type %v is not supported", info.Name, info.Type)
	}
	vals := make([]float32, dim)
	format.Dequantize(vals, f.TensorData(info)[:info.Type.RowBytes(dim)])
	data := make([]byte, 0, 4*dim)
	for _, v := range vals {
		data = appendF32(data, v)
	}
	t := backend.Tensor{Type: gguf.TypeF32, Rows: 1, Cols: dim}
	buf, err := b.Alloc(t.Bytes())
	if err != nil {
		return t, nil, err
	}
	t.Buf = buf
	if err := b.Write(t, data); err != nil {
		b.Free(buf)
		return t, nil, err
	}
	return t, buf, nil
}

// Forward panics: an encoder has no logits.
func (m *Bert) Forward(s *State, kv *Cache) {
	panic(fmt.Sprintf("model: %s is an embedding model: it has no logits", m.h.Arch))
}

// HasClassifier reports whether the file has a classification head.
func (m *Bert) HasClassifier() bool { return m.w.ClsOut.Buf != nil }

// Hidden runs the encoder over the batch (each input its own sequence,
// attending to all of itself) and returns the final hidden states.
func (m *Bert) Hidden(s *EmbedState) backend.Tensor {
	b, h, w := m.b, m.h, &m.w
	x, xb, xb2 := s.act("x"), s.act("xb"), s.act("xb2")

	// xb = LN(token_embd[id] + token_types[0] (+ position_embd[t]))
	m.embed(s.State, w.TokenEmbd, x)
	b.AddRow(x, x, m.typeRow)
	if w.PositionEmbd.Buf != nil {
		b.GetRows(xb, w.PositionEmbd, s.pos.Head(s.n))
		b.Add(x, x, xb)
	}
	b.LayerNorm(xb, x, w.EmbNorm, w.EmbNormB, h.NormEps)
	for l := range w.Layers {
		layer := &w.Layers[l]
		// x = LN(attention(xb) + xb)
		m.attend(s, l, xb, xb2, layer)
		b.Add(xb2, xb2, xb)
		b.LayerNorm(x, xb2, layer.AttnOutNorm, layer.AttnOutNormB, h.NormEps)
		// xb = LN(ffn(x) + x)
		if m.nomic {
			m.swiGLU(s.State, x, xb2, layer.Gate, layer.Up, layer.Down)
		} else {
			hidden := s.act("gate")
			b.MatMul(hidden, layer.Up, x)
			b.AddRow(hidden, hidden, layer.UpB)
			b.GELU(hidden, hidden)
			b.MatMul(xb2, layer.Down, hidden)
			b.AddRow(xb2, xb2, layer.DownB)
		}
		b.Add(xb2, xb2, x)
		b.LayerNorm(xb, xb2, layer.OutNorm, layer.OutNormB, h.NormEps)
	}
	return xb
}

// attend computes out = Wo · attention(in) (+ bo) with every token of an
// input attending to all of that input: causal attention whose query
// positions are all the input's last (the span), so the mask lets all through.
func (m *Bert) attend(s *EmbedState, l int, in, out backend.Tensor, layer *bertLayer) {
	b, h := m.b, m.h
	q, k, v, att := s.act("q"), s.act("k"), s.act("v"), s.act("att")
	if m.nomic {
		qd, kd := h.QDim(), h.QDim()+h.KVDim()
		b.MatMul(q, layer.QKV.Slice(0, qd), in)
		b.MatMul(k, layer.QKV.Slice(qd, kd), in)
		b.MatMul(v, layer.QKV.Slice(kd, layer.QKV.Rows), in)
		b.RoPE(q, s.pos.Head(s.n), h.RoPE)
		b.RoPE(k, s.pos.Head(s.n), h.RoPE)
	} else {
		b.MatMul(q, layer.Wq, in)
		b.AddRow(q, q, layer.Bq)
		b.MatMul(k, layer.Wk, in)
		b.AddRow(k, k, layer.Bk)
		b.MatMul(v, layer.Wv, in)
		b.AddRow(v, v, layer.Bv)
	}
	kv := s.kv
	b.KVWrite(kv.K[l], k, s.cacheRows.Head(s.n))
	b.KVWrite(kv.V[l], v, s.cacheRows.Head(s.n))
	b.Attend(att, q, kv.K[l], kv.V[l], s.Span(), s.seq.Head(s.n), backend.Attention{
		Heads: h.Heads, KVHeads: h.KVHeads, HeadDim: h.HeadDim, Context: kv.Context, Scale: h.AttnScale,
	})
	b.MatMul(out, layer.Wo, att)
	if layer.Bo.Buf != nil {
		b.AddRow(out, out, layer.Bo)
	}
}

// Classify is the reranker head on the pooled [CLS] states:
// cls.output · tanh(cls · x + cls.bias) + cls.output.bias (without cls when
// the file has no dense layer).
func (m *Bert) Classify(s *EmbedState, pooled backend.Tensor) backend.Tensor {
	b, w := m.b, &m.w
	in := pooled
	if w.Cls.Buf != nil {
		hidden := s.act("out.xb")
		b.MatMul(hidden, w.Cls, pooled)
		b.AddRow(hidden, hidden, w.ClsB)
		b.SoftCap(hidden, hidden, 1) // tanh
		in = hidden
	}
	score := s.act("out.score")
	b.MatMul(score, w.ClsOut, in)
	b.AddRow(score, score, w.ClsOutB)
	return score
}

func appendF32(b []byte, v float32) []byte {
	u := math.Float32bits(v)
	return append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
}
