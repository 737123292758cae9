package model

import (
	"fmt"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Gated DeltaNet: linear attention with a recurrent state (Qwen 3.5,
// Qwen3-Next). A layer projects its normed input to q, k and v (attn_qkv),
// convolves them causally over time per channel (ssm_conv1d, kernel 4) with
// SiLU, L2-normalises q and k per head and runs the gated delta rule over a
// per-sequence state (Backend.DeltaNet); the output is RMS-normed per head
// (ssm_norm), multiplied by silu(attn_gate·x) and projected (ssm_out). The
// state lives in the Cache next to the KV cache (Cache.Conv, Cache.Rec).

// Hybrid describes a hybrid model's layer pattern and DeltaNet layers.
type Hybrid struct {
	// Interval: layer l is a full-attention layer when (l+1) % Interval == 0,
	// a DeltaNet layer otherwise (full_attention_interval).
	Interval   int
	ConvKernel int // ssm.conv_kernel
	Net        backend.DeltaNet
}

// Recurrent reports whether layer l is a DeltaNet layer.
func (y *Hybrid) Recurrent(l int) bool { return (l+1)%y.Interval != 0 }

// ConvStateSize is one sequence's convolution state, in values.
func (y *Hybrid) ConvStateSize() int { return (y.ConvKernel - 1) * y.Net.ConvChannels() }

// Pattern is the layer pattern in words, for `conveyor info`.
func (y *Hybrid) Pattern(layers int) string {
	s := make([]byte, layers)
	for l := range s {
		s[l] = 'A'
		if y.Recurrent(l) {
			s[l] = 'D'
		}
	}
	return fmt.Sprintf("%s (D: Gated DeltaNet, A: gated full attention)", s)
}

// readHybrid reads the ssm.* keys and full_attention_interval.
func readHybrid(f *gguf.File, h *Hyper) error {
	m := meta{f}
	key := func(k string) string { return h.Arch + "." + k }
	y := &Hybrid{}
	var inner int
	var err error
	for _, r := range []struct {
		v   *int
		key string
	}{
		{&y.Interval, "full_attention_interval"}, {&y.ConvKernel, "ssm.conv_kernel"},
		{&y.Net.KeyDim, "ssm.state_size"}, {&y.Net.KeyHeads, "ssm.group_count"},
		{&y.Net.ValueHeads, "ssm.time_step_rank"}, {&inner, "ssm.inner_size"},
	} {
		def, required := 0, true
		if r.key == "full_attention_interval" {
			def, required = 4, false // llama.cpp's default
		}
		if *r.v, err = m.uint(key(r.key), def, required); err != nil {
			return err
		}
		if *r.v == 0 {
			return fmt.Errorf("model: key %q must not be 0", key(r.key))
		}
	}
	n := &y.Net
	if n.ValueHeads%n.KeyHeads != 0 || inner%n.ValueHeads != 0 {
		return fmt.Errorf("model: %d value heads of inner size %d over %d key heads: want whole multiples", n.ValueHeads, inner, n.KeyHeads)
	}
	n.ValueDim = inner / n.ValueHeads
	n.Eps = h.NormEps
	n.Scale = invSqrt(n.KeyDim)
	h.Hybrid = y
	h.Features = append(h.Features, fmt.Sprintf("hybrid: Gated DeltaNet (%d key x %d value heads, state %dx%d) and gated attention every %d layers",
		n.KeyHeads, n.ValueHeads, n.ValueDim, n.KeyDim, y.Interval))
	return nil
}

func (y *Hybrid) addSizes(h *Hyper, m map[string]int) {
	m["convch"] = y.Net.ConvChannels()
	m["convk"] = y.ConvKernel
	m["ssminner"] = y.Net.ValueHeads * y.Net.ValueDim
	m["ssmheads"] = y.Net.ValueHeads
	m["ssmba"] = 2 * y.Net.ValueHeads
	m["ssmvdim"] = y.Net.ValueDim
	m["qgdim"] = 2 * h.QDim()
	m["sffn"] = h.SharedFFN
}

func (y *Hybrid) addActivations(h *Hyper, acts map[string]int) {
	acts["dn.qkv"] = y.Net.ConvChannels()
	acts["dn.conv"] = y.Net.ConvChannels()
	acts["dn.z"] = y.Net.ValueHeads * y.Net.ValueDim
	acts["dn.o"] = y.Net.ValueHeads * y.Net.ValueDim
	acts["dn.beta"] = 2 * y.Net.ValueHeads
	acts["dn.alpha"] = y.Net.ValueHeads
	acts["qg"] = 2 * h.QDim()
	acts["attgate"] = h.QDim()
	if h.SharedFFN > 0 {
		acts["sh.gate"] = h.SharedFFN
		acts["sh.up"] = h.SharedFFN
		acts["sh.g"] = 1
		acts["sh.out"] = h.Dim
	}
}

// deltaNetWeights are a DeltaNet layer's tensors (absent on attention layers).
type deltaNetWeights struct {
	QKV     backend.Tensor `gguf:"attn_qkv.weight" shape:"convch,dim" optional:"true"`
	Z       backend.Tensor `gguf:"attn_gate.weight" shape:"ssminner,dim" optional:"true"`
	Conv    backend.Tensor `gguf:"ssm_conv1d.weight" shape:"convch,convk" optional:"true"`
	DtBias  backend.Tensor `gguf:"ssm_dt.bias" shape:"ssmheads" optional:"true"`
	A       backend.Tensor `gguf:"ssm_a" shape:"ssmheads" optional:"true"`
	Beta    backend.Tensor `gguf:"ssm_beta.weight" shape:"ssmheads,dim" optional:"true"`
	Alpha   backend.Tensor `gguf:"ssm_alpha.weight" shape:"ssmheads,dim" optional:"true"`
	BA      backend.Tensor `gguf:"ssm_ba.weight" shape:"ssmba,dim" optional:"true"`
	SSMNorm backend.Tensor `gguf:"ssm_norm.weight" shape:"ssmvdim" optional:"true"`
	SSMOut  backend.Tensor `gguf:"ssm_out.weight" shape:"dim,ssminner" optional:"true"`
}

// check requires the tensors of a DeltaNet layer (grouped: ssm_ba in place
// of ssm_beta and ssm_alpha).
func (w *deltaNetWeights) check(arch string, l int, grouped bool) error {
	need := map[string]backend.Tensor{"attn_qkv.weight": w.QKV, "attn_gate.weight": w.Z, "ssm_conv1d.weight": w.Conv,
		"ssm_dt.bias": w.DtBias, "ssm_a": w.A, "ssm_norm.weight": w.SSMNorm, "ssm_out.weight": w.SSMOut}
	if grouped {
		need["ssm_ba.weight"] = w.BA
	} else {
		need["ssm_beta.weight"], need["ssm_alpha.weight"] = w.Beta, w.Alpha
	}
	return requireTensors(arch, l, need, true)
}

// deltaNet computes out = ssm_out(norm(deltanet(in)) * silu(attn_gate·in))
// for the normed input in, carrying layer l's state in kv.
func (d *decoder) deltaNet(r backend.Recurrent, s *State, kv *Cache, l int, in, out backend.Tensor, w *deltaNetWeights) {
	b, h, p := d.b, d.h, d.h.Hybrid.Net
	pos, seq := s.pos.Head(s.n), s.seq.Head(s.n)
	qkv, conv, z, o := s.act("dn.qkv"), s.act("dn.conv"), s.act("dn.z"), s.act("dn.o")
	beta, alpha := s.act("dn.beta"), s.act("dn.alpha")

	b.MatMul(qkv, w.QKV, in)
	r.SSMConv(conv, qkv, w.Conv, kv.Conv[l], pos, seq)
	if w.BA.Buf != nil {
		p.GroupedBA = true
		b.MatMul(beta, w.BA, in)
	} else {
		beta = beta.Reshape(s.n*2, p.ValueHeads).Slice(0, s.n) // the first n*ValueHeads values
		b.MatMul(beta, w.Beta, in)
		b.MatMul(alpha, w.Alpha, in)
	}
	r.DeltaNet(o, conv, beta, alpha, w.DtBias, w.A, kv.Rec[l], pos, seq, p)
	heads := o.Reshape(s.n*p.ValueHeads, p.ValueDim)
	b.RMSNorm(heads, heads, w.SSMNorm, h.NormEps)
	b.MatMul(z, w.Z, in)
	b.SwiGLU(o, z, o)
	b.MatMul(out, w.SSMOut, o)
}

// gatedAttnWeights are a gated full-attention layer's tensors: attn_q gives
// per head the query and then the gate.
type gatedAttnWeights struct {
	Wq    backend.Tensor `gguf:"attn_q.weight" shape:"qgdim,dim" optional:"true"`
	Wk    backend.Tensor `gguf:"attn_k.weight" shape:"kvdim,dim" optional:"true"`
	Wv    backend.Tensor `gguf:"attn_v.weight" shape:"kvdim,dim" optional:"true"`
	Wo    backend.Tensor `gguf:"attn_output.weight" shape:"dim,qdim" optional:"true"`
	QNorm backend.Tensor `gguf:"attn_q_norm.weight" shape:"qnorm" optional:"true"`
	KNorm backend.Tensor `gguf:"attn_k_norm.weight" shape:"knorm" optional:"true"`
}

func (w *gatedAttnWeights) check(arch string, l int) error {
	return requireTensors(arch, l, map[string]backend.Tensor{"attn_q.weight": w.Wq, "attn_k.weight": w.Wk,
		"attn_v.weight": w.Wv, "attn_output.weight": w.Wo, "attn_q_norm.weight": w.QNorm, "attn_k_norm.weight": w.KNorm}, true)
}

// gatedAttention is attention with per-head q/k RMSNorm whose output is
// multiplied by sigmoid(gate) before the output projection.
func (d *decoder) gatedAttention(r backend.Recurrent, s *State, kv *Cache, l int, in, out backend.Tensor, w *gatedAttnWeights) {
	b, h := d.b, d.h
	qg, q, gate := s.act("qg"), s.act("q"), s.act("attgate")
	k, v, att := s.act("k"), s.act("v"), s.act("att")
	pos := s.pos.Head(s.n)

	b.MatMul(qg, w.Wq, in)
	r.SplitHalves(q.Reshape(s.n*h.Heads, h.HeadDim), gate.Reshape(s.n*h.Heads, h.HeadDim), qg.Reshape(s.n*h.Heads, 2*h.HeadDim))
	b.MatMul(k, w.Wk, in)
	b.MatMul(v, w.Wv, in)
	qn, kn := q.Reshape(s.n*h.Heads, h.HeadDim), k.Reshape(s.n*h.KVHeads, h.HeadDim)
	b.RMSNorm(qn, qn, w.QNorm, h.NormEps)
	b.RMSNorm(kn, kn, w.KNorm, h.NormEps)
	b.RoPE(q, pos, h.RoPE)
	b.RoPE(k, pos, h.RoPE)
	att = storeAndAttend(b, s, kv, l, q, k, v, att, backend.Attention{
		Heads: h.Heads, KVHeads: h.KVHeads, HeadDim: h.HeadDim, Context: kv.Context, Scale: h.AttnScale,
	})
	r.SigmoidMul(att, att, gate)
	b.MatMul(out, w.Wo, att)
}

// sharedExpert is the shared expert beside the routed ones, gated per
// token: out += sigmoid(gate_inp·in) * down(silu(gate·in) * up·in).
type sharedExpert struct {
	GateInp backend.Tensor `gguf:"ffn_gate_inp_shexp.weight" shape:"dim" optional:"true"`
	Gate    backend.Tensor `gguf:"ffn_gate_shexp.weight" shape:"sffn,dim" optional:"true"`
	Up      backend.Tensor `gguf:"ffn_up_shexp.weight" shape:"sffn,dim" optional:"true"`
	Down    backend.Tensor `gguf:"ffn_down_shexp.weight" shape:"dim,sffn" optional:"true"`
}

func (d *decoder) sharedExpert(r backend.Recurrent, s *State, in, out backend.Tensor, w *sharedExpert) {
	b := d.b
	g, u, sg, so := s.act("sh.gate"), s.act("sh.up"), s.act("sh.g"), s.act("sh.out")
	b.MatMul(g, w.Gate, in)
	b.MatMul(u, w.Up, in)
	b.SwiGLU(g, g, u)
	b.MatMul(so, w.Down, g)
	b.MatMul(sg, w.GateInp, in)
	r.SigmoidMul(so, so, sg)
	b.Add(out, out, so)
}
