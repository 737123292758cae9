package model

import (
	"fmt"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Mixture of experts: a layer's feed-forward is one of many experts, chosen
// per token by a router (llama.cpp's build_moe_ffn without shared experts).
// The router's logits choose ExpertsUsed experts and their weights
// (Backend.Route); each chosen expert is a gated feed-forward of width
// ExpertFFN, computed for only the tokens that chose it (Backend.MatMulID);
// the layer's output is the weighted sum (Backend.MoESum).

// moeFFN is a layer's router and expert stacks: expert e is slice e of each
// 3-D stack, a matrix of ExpertFFN (gate, up) or Dim (down) rows.
type moeFFN struct {
	Router   backend.Tensor `gguf:"ffn_gate_inp.weight" shape:"experts,dim"`
	GateExps backend.Tensor `gguf:"ffn_gate_exps.weight" shape:"experts,effn,dim"`
	UpExps   backend.Tensor `gguf:"ffn_up_exps.weight" shape:"experts,effn,dim"`
	DownExps backend.Tensor `gguf:"ffn_down_exps.weight" shape:"experts,dim,effn"`
}

// hasExperts reports whether the file's ARCH.expert_count key is set and
// non-zero.
func hasExperts(f *gguf.File, arch string) bool {
	n, err := meta{f}.uint(arch+".expert_count", 0, false)
	return err == nil && n > 0
}

// readExperts reads the expert keys; the expert width is
// ARCH.expert_feed_forward_length, or feed_forward_length where the
// architecture has no such key (Mixtral's llama).
func readExperts(f *gguf.File, h *Hyper, gating string) error {
	m := meta{f}
	key := func(k string) string { return h.Arch + "." + k }
	var err error
	if h.Experts, err = m.uint(key("expert_count"), 0, true); err != nil {
		return err
	}
	if h.ExpertsUsed, err = m.uint(key("expert_used_count"), 0, true); err != nil {
		return err
	}
	if h.ExpertFFN, err = m.uint(key("expert_feed_forward_length"), h.FFN, false); err != nil {
		return err
	}
	if h.Experts == 0 || h.ExpertsUsed == 0 || h.ExpertsUsed > h.Experts || h.ExpertFFN == 0 {
		return fmt.Errorf("model: %d experts, %d used per token, of width %d: want 1 <= used <= experts and a non-zero width", h.Experts, h.ExpertsUsed, h.ExpertFFN)
	}
	h.Features = append(h.Features, fmt.Sprintf("mixture of experts (%s)", gating))
	return nil
}

// addMoEActivations adds the MoE block's scratch: router logits, the chosen
// experts and their weights, and each chosen expert's gate, up and down
// rows (ExpertsUsed per token, reshaped to one row per slot).
func addMoEActivations(h *Hyper, acts map[string]int) {
	acts["moe.logits"] = h.Experts
	acts["i32.moe.ids"] = h.ExpertsUsed
	acts["moe.weights"] = h.ExpertsUsed
	acts["moe.gate"] = h.ExpertsUsed * h.ExpertFFN
	acts["moe.up"] = h.ExpertsUsed * h.ExpertFFN
	acts["moe.down"] = h.ExpertsUsed * h.Dim
	if h.expertBiases {
		acts["moe.bias"] = h.ExpertsUsed * max(h.ExpertFFN, h.Dim)
	}
}

// moe computes out = sum over each token's chosen experts e of
// w_e * down_e(silu(gate_e·in) * up_e·in).
func (d *decoder) moe(s *State, in, out backend.Tensor, f *moeFFN, g backend.Gating) {
	b, h := d.b, d.h
	slots := s.n * h.ExpertsUsed
	logits, ids, weights := s.act("moe.logits"), s.act("i32.moe.ids"), s.act("moe.weights")
	gate := s.act("moe.gate").Reshape(slots, h.ExpertFFN)
	up := s.act("moe.up").Reshape(slots, h.ExpertFFN)
	down := s.act("moe.down").Reshape(slots, h.Dim)

	b.MatMul(logits, f.Router, in)
	b.Route(ids, weights, logits, g)
	b.MatMulID(gate, f.GateExps, in, ids)
	b.MatMulID(up, f.UpExps, in, ids)
	b.SwiGLU(gate, gate, up)
	b.MatMulID(down, f.DownExps, gate, ids)
	b.MoESum(out, down, weights)
}

// Mixtral is the Llama architecture with a mixture of experts in place of
// every feed-forward (llama.expert_count > 0).
type Mixtral struct {
	decoder
	w mixtralWeights
}

type mixtralWeights struct {
	embeddings
	Layers []mixtralLayer `gguf:"blk.%d"`
}

type mixtralLayer struct {
	preNorms
	attnProj
	moeFFN
}

func loadMixtral(f *gguf.File, b backend.Backend, h *Hyper, progress Progress) (Model, []backend.Buffer, error) {
	if err := readExperts(f, h, "softmax gating, top-k renormalised"); err != nil {
		return nil, nil, err
	}
	if err := readRoPEFreqs(f, h); err != nil {
		return nil, nil, err
	}
	m := &Mixtral{decoder: newDecoder(b, h, func(int) attnLayer { return attnLayer{rope: &h.RoPE} })}
	bufs, err := bindWeights(f, b, h, progress, &m.w)
	return m, bufs, err
}

// Forward is Llama's forward pass with the MoE feed-forward.
func (m *Mixtral) Forward(s *State, kv *Cache) {
	b, h, w := m.b, m.h, &m.w
	x, xb, xb2 := s.act("x"), s.act("xb"), s.act("xb2")

	m.embed(s, w.TokenEmbd, x)
	for l := range w.Layers {
		layer := &w.Layers[l]
		b.RMSNorm(xb, x, layer.AttnNorm, h.NormEps)
		m.attention(s, kv, l, xb, xb2, layer.attnProj.weights(), m.layers[l])
		b.Add(x, x, xb2)
		b.RMSNorm(xb, x, layer.FFNNorm, h.NormEps)
		m.moe(s, xb, xb2, &layer.moeFFN, backend.GatingSoftmax)
		b.Add(x, x, xb2)
	}
	m.logits(s, x, w.Output, m.rmsNormed(w.OutputNorm))
}
