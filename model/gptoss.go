package model

import (
	"fmt"
	"math"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// GPTOSS is OpenAI's gpt-oss: pre-norm blocks whose attention has biases on
// every projection, a learned sink logit per head, and a sliding window on
// the even layers; NeoX RoPE with YaRN scaling; and a mixture of experts with
// a biased router (top-k, then softmax over those), biased experts and the
// clamped SwiGLU (ggml's swiglu_oai).
type GPTOSS struct {
	decoder
	w          gptOSSWeights
	routerHook RouterHook
}

// RouterHook sees a MoE layer's router logits (one row per token of the
// batch, the router bias added) before the experts are chosen, with the
// tokens' positions, and may rewrite them (Backend.Write) to force a choice.
// Tests use it to find router near-ties and to follow another engine's
// choice at one; nil in normal use.
type RouterHook func(b backend.Backend, layer int, pos, logits backend.Tensor)

// SetRouterHook installs h (nil removes it).
func (m *GPTOSS) SetRouterHook(h RouterHook) { m.routerHook = h }

// The clamped SwiGLU's constants, fixed in llama.cpp for gpt-oss.
const (
	gptOSSAlpha = 1.702
	gptOSSLimit = 7
)

type gptOSSWeights struct {
	embeddings
	Layers []gptOSSLayer `gguf:"blk.%d"`
}

type gptOSSLayer struct {
	AttnNorm backend.Tensor `gguf:"attn_norm.weight" shape:"dim"`
	attnProj
	Bq    backend.Tensor `gguf:"attn_q.bias" shape:"qdim"`
	Bk    backend.Tensor `gguf:"attn_k.bias" shape:"kvdim"`
	Bv    backend.Tensor `gguf:"attn_v.bias" shape:"kvdim"`
	Bo    backend.Tensor `gguf:"attn_output.bias" shape:"dim"`
	Sinks backend.Tensor `gguf:"attn_sinks.weight" shape:"heads"`
	// The pre-FFN norm, despite its name.
	FFNNorm backend.Tensor `gguf:"post_attention_norm.weight" shape:"dim"`
	moeFFN
	RouterBias backend.Tensor `gguf:"ffn_gate_inp.bias" shape:"experts"`
	GateBias   backend.Tensor `gguf:"ffn_gate_exps.bias" shape:"experts,effn"`
	UpBias     backend.Tensor `gguf:"ffn_up_exps.bias" shape:"experts,effn"`
	DownBias   backend.Tensor `gguf:"ffn_down_exps.bias" shape:"experts,dim"`
}

func loadGPTOSS(f *gguf.File, b backend.Backend, progress Progress) (Model, []backend.Buffer, error) {
	h, err := readHyper(f, "gpt-oss")
	if err != nil {
		return nil, nil, err
	}
	ropeMode(h, backend.RoPENeoX)
	window, err := meta{f}.uint("gpt-oss.attention.sliding_window", 128, false)
	if err != nil {
		return nil, nil, err
	}
	if err := readExperts(f, h, "top-k then softmax, clamped SwiGLU"); err != nil {
		return nil, nil, err
	}
	h.expertBiases = true
	h.Features = append(h.Features, "attention sinks", "biases",
		fmt.Sprintf("sliding window %d on even layers", window))
	// llama.cpp alternates: sliding window on the even layers, global on the odd.
	m := &GPTOSS{decoder: newDecoder(b, h, func(i int) attnLayer {
		a := attnLayer{rope: &h.RoPE}
		if i%2 == 0 {
			a.window = window
		}
		return a
	})}
	bufs, err := bindWeights(f, b, h, progress, &m.w)
	return m, bufs, err
}

// Forward is the gpt-oss forward pass.
func (m *GPTOSS) Forward(s *State, kv *Cache) {
	b, h, w := m.b, m.h, &m.w
	x, xb, xb2 := s.act("x"), s.act("xb"), s.act("xb2")

	m.embed(s, w.TokenEmbd, x)
	for l := range w.Layers {
		layer := &w.Layers[l]
		attn := layer.attnProj.weights()
		attn.Bq, attn.Bk, attn.Bv, attn.Bo = layer.Bq, layer.Bk, layer.Bv, layer.Bo
		attn.Sinks = layer.Sinks
		b.RMSNorm(xb, x, layer.AttnNorm, h.NormEps)
		m.attention(s, kv, l, xb, xb2, attn, m.layers[l])
		b.Add(x, x, xb2)
		b.RMSNorm(xb, x, layer.FFNNorm, h.NormEps)
		m.moeOAI(s, l, xb, xb2, layer)
		b.Add(x, x, xb2)
	}
	m.logits(s, x, w.Output, m.rmsNormed(w.OutputNorm))
}

// moeOAI is gpt-oss's mixture of experts: router logits plus bias, the top
// ExpertsUsed softmaxed, each chosen expert
// down(swiglu_oai(gate·in + bg, up·in + bu)) + bd, their weighted sum.
func (m *GPTOSS) moeOAI(s *State, layer int, in, out backend.Tensor, l *gptOSSLayer) {
	b, h := m.b, m.h
	slots := s.n * h.ExpertsUsed
	logits, ids, weights := s.act("moe.logits"), s.act("i32.moe.ids"), s.act("moe.weights")
	gate := s.act("moe.gate").Reshape(slots, h.ExpertFFN)
	up := s.act("moe.up").Reshape(slots, h.ExpertFFN)
	down := s.act("moe.down").Reshape(slots, h.Dim)
	bias := s.act("moe.bias")
	bias = bias.Reshape(1, bias.Rows*bias.Cols)
	slotIDs := ids.Reshape(1, slots)
	// addBias adds each slot's expert's row of stack to x (ggml's add_id).
	addBias := func(x, stack backend.Tensor) {
		rows := bias.Columns(0, slots*stack.Cols).Reshape(slots, stack.Cols)
		b.GetRows(rows, stack, slotIDs)
		b.Add(x, x, rows)
	}

	b.MatMul(logits, l.Router, in)
	b.AddRow(logits, logits, l.RouterBias)
	if m.routerHook != nil {
		m.routerHook(b, layer, s.pos.Head(s.n), logits)
	}
	b.Route(ids, weights, logits, backend.GatingTopKSoftmax)
	b.MatMulID(gate, l.GateExps, in, ids)
	addBias(gate, l.GateBias)
	b.MatMulID(up, l.UpExps, in, ids)
	addBias(up, l.UpBias)
	b.SwiGLUOAI(gate, gate, up, gptOSSAlpha, gptOSSLimit)
	b.MatMulID(down, l.DownExps, gate, ids)
	addBias(down, l.DownBias)
	b.MoESum(out, down, weights)
}

// readYaRN reads YaRN RoPE scaling as llama.cpp applies it: positions scaled
// by 1/factor on the slow pairs, unscaled on the fast ones, a ramp between
// the correction dimensions (from beta_fast 32 and beta_slow 1 unless the
// file says otherwise), and cos and sin scaled by 1 + 0.1 ln(factor).
func readYaRN(f *gguf.File, h *Hyper) error {
	m := meta{f}
	key := func(k string) string { return h.Arch + "." + k }
	factor, err := m.positive(key("rope.scaling.factor"), 1)
	if err != nil {
		return err
	}
	orig, err := m.uint(key("rope.scaling.original_context_length"), h.ContextLength, false)
	if err != nil {
		return err
	}
	betaFast, err := m.positive(key("rope.scaling.yarn_beta_fast"), 32)
	if err != nil {
		return err
	}
	betaSlow, err := m.positive(key("rope.scaling.yarn_beta_slow"), 1)
	if err != nil {
		return err
	}
	r := &h.RoPE
	r.FreqScale = 1 / factor
	r.ExtFactor = 1
	r.CorrDims = yarnCorrDims(r.Dims, orig, r.FreqBase, betaFast, betaSlow)
	r.MScale = 1 + float32(0.1)*float32(math.Log(float64(1/r.FreqScale)))
	h.Features = append(h.Features, fmt.Sprintf("YaRN RoPE scaling x%g from %d", factor, orig))
	return nil
}

// yarnCorrDims is ggml_rope_yarn_corr_dims: the pairs where the ramp starts
// and ends, in float32 as ggml computes them.
func yarnCorrDims(dims, origCtx int, base, betaFast, betaSlow float32) [2]float32 {
	corr := func(rot float32) float32 {
		return float32(dims) * float32(math.Log(float64(float32(origCtx)/(rot*2*math.Pi)))) / (2 * float32(math.Log(float64(base))))
	}
	start := float32(math.Floor(float64(corr(betaFast))))
	end := float32(math.Ceil(float64(corr(betaSlow))))
	return [2]float32{max(0, start), min(float32(dims-1), end)}
}
