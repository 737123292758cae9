package model

import (
	"fmt"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Qwen35 is the hybrid linear-attention family: Qwen 3.5 (qwen35, dense
// feed-forward), Qwen 3.5 MoE (qwen35moe) and Qwen3-Next (qwen3next), whose
// MoE feed-forwards add a gated shared expert. Gated DeltaNet layers
// (deltanet.go) alternate with gated full-attention layers: every
// full_attention_interval-th layer attends. Qwen 3.5's multi-section RoPE
// takes the token position in every section for text, so it is NeoX RoPE on
// the rotated dimensions, as Qwen3-Next's.
type Qwen35 struct {
	decoder
	r backend.Recurrent
	w qwen35Weights
}

type qwen35Weights struct {
	embeddings
	Layers []qwen35Layer `gguf:"blk.%d"`
}

type qwen35Layer struct {
	AttnNorm     backend.Tensor `gguf:"attn_norm.weight" shape:"dim"`
	PostAttnNorm backend.Tensor `gguf:"post_attention_norm.weight" shape:"dim"`
	deltaNetWeights
	gatedAttnWeights
	// Dense feed-forward (qwen35).
	Gate backend.Tensor `gguf:"ffn_gate.weight" shape:"ffn,dim" optional:"true"`
	Up   backend.Tensor `gguf:"ffn_up.weight" shape:"ffn,dim" optional:"true"`
	Down backend.Tensor `gguf:"ffn_down.weight" shape:"dim,ffn" optional:"true"`
	// Mixture of experts with a shared expert (qwen35moe, qwen3next).
	Router   backend.Tensor `gguf:"ffn_gate_inp.weight" shape:"experts,dim" optional:"true"`
	GateExps backend.Tensor `gguf:"ffn_gate_exps.weight" shape:"experts,effn,dim" optional:"true"`
	UpExps   backend.Tensor `gguf:"ffn_up_exps.weight" shape:"experts,effn,dim" optional:"true"`
	DownExps backend.Tensor `gguf:"ffn_down_exps.weight" shape:"experts,dim,effn" optional:"true"`
	sharedExpert
}

func loadQwen35(f *gguf.File, b backend.Backend, progress Progress) (Model, []backend.Buffer, error) {
	return loadHybrid(f, b, progress, "qwen35")
}

func loadQwen35MoE(f *gguf.File, b backend.Backend, progress Progress) (Model, []backend.Buffer, error) {
	return loadHybrid(f, b, progress, "qwen35moe")
}

func loadQwen3Next(f *gguf.File, b backend.Backend, progress Progress) (Model, []backend.Buffer, error) {
	return loadHybrid(f, b, progress, "qwen3next")
}

func loadHybrid(f *gguf.File, b backend.Backend, progress Progress, arch string) (Model, []backend.Buffer, error) {
	r, ok := b.(backend.Recurrent)
	if !ok {
		return nil, nil, fmt.Errorf("model: %s: its Gated DeltaNet layers are not implemented on the %s backend yet (use the cpu backend)", arch, b.Name())
	}
	h, err := readHyper(f, arch)
	if err != nil {
		return nil, nil, err
	}
	ropeMode(h, backend.RoPENeoX)
	if arch != "qwen3next" {
		h.Features = append(h.Features, "multi-section RoPE (text: NeoX)")
	}
	h.qNormSize, h.kNormSize = h.HeadDim, h.HeadDim
	if err := readHybrid(f, h); err != nil {
		return nil, nil, err
	}
	h.Hybrid.Net.Tiled = arch != "qwen3next"
	moe := hasExperts(f, arch)
	if moe {
		if err := readExperts(f, h, "softmax gating, top-k renormalised, gated shared expert"); err != nil {
			return nil, nil, err
		}
		if h.SharedFFN, err = (meta{f}).uint(arch+".expert_shared_feed_forward_length", 0, true); err != nil {
			return nil, nil, err
		}
		if h.FFN == 0 {
			h.FFN = h.SharedFFN
		}
	}
	m := &Qwen35{decoder: newDecoder(b, h, func(int) attnLayer { return attnLayer{rope: &h.RoPE} }), r: r}
	bufs, err := bindWeights(f, b, h, progress, &m.w)
	if err != nil {
		return nil, nil, err
	}
	for l := range m.w.Layers {
		if err := m.w.Layers[l].check(h, l, moe); err != nil {
			return nil, nil, freeAll(b, bufs, err)
		}
	}
	return m, bufs, nil
}

// check requires the tensors of the layer's kind.
func (w *qwen35Layer) check(h *Hyper, l int, moe bool) error {
	if h.Hybrid.Recurrent(l) {
		if err := w.deltaNetWeights.check(h.Arch, l, h.Arch == "qwen3next"); err != nil {
			return err
		}
	} else if err := w.gatedAttnWeights.check(h.Arch, l); err != nil {
		return err
	}
	if moe {
		return requireTensors(h.Arch, l, map[string]backend.Tensor{"ffn_gate_inp.weight": w.Router,
			"ffn_gate_exps.weight": w.GateExps, "ffn_up_exps.weight": w.UpExps, "ffn_down_exps.weight": w.DownExps,
			"ffn_gate_inp_shexp.weight": w.sharedExpert.GateInp, "ffn_gate_shexp.weight": w.sharedExpert.Gate,
			"ffn_up_shexp.weight": w.sharedExpert.Up, "ffn_down_shexp.weight": w.sharedExpert.Down}, true)
	}
	return requireTensors(h.Arch, l, map[string]backend.Tensor{"ffn_gate.weight": w.Gate, "ffn_up.weight": w.Up, "ffn_down.weight": w.Down}, true)
}

// Forward runs the hybrid layers: x += mixer(norm(x)), x += ffn(norm(x)).
func (m *Qwen35) Forward(s *State, kv *Cache) {
	b, h, w := m.b, m.h, &m.w
	x, xb, xb2 := s.act("x"), s.act("xb"), s.act("xb2")

	m.embed(s, w.TokenEmbd, x)
	for l := range w.Layers {
		layer := &w.Layers[l]
		b.RMSNorm(xb, x, layer.AttnNorm, h.NormEps)
		if h.Hybrid.Recurrent(l) {
			m.deltaNet(m.r, s, kv, l, xb, xb2, &layer.deltaNetWeights)
		} else {
			m.gatedAttention(m.r, s, kv, l, xb, xb2, &layer.gatedAttnWeights)
		}
		b.Add(x, x, xb2)
		b.RMSNorm(xb, x, layer.PostAttnNorm, h.NormEps)
		if h.Experts > 0 {
			ffn := moeFFN{Router: layer.Router, GateExps: layer.GateExps, UpExps: layer.UpExps, DownExps: layer.DownExps}
			m.moe(s, xb, xb2, &ffn, backend.GatingSoftmax)
			m.sharedExpert(m.r, s, xb, xb2, &layer.sharedExpert)
		} else {
			m.swiGLU(s, xb, xb2, layer.Gate, layer.Up, layer.Down)
		}
		b.Add(x, x, xb2)
	}
	m.logits(s, x, w.Output, m.rmsNormed(w.OutputNorm))
}
