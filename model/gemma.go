package model

import (
	"fmt"
	"math"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Gemma is Gemma 2 and Gemma 3: embeddings scaled by sqrt(dim), RMSNorm before
// and after both attention and the GELU-gated feed-forward, NeoX RoPE, and
// sliding-window attention on most layers. Gemma 2 soft-caps attention scores
// and the final logits; Gemma 3 norms each head of q and k and gives its
// global layers their own RoPE base and scaling.
type Gemma struct {
	decoder
	w            gemmaWeights
	finalSoftCap float32
	localRoPE    backend.RoPE // Gemma 3's sliding layers
}

type gemmaWeights struct {
	embeddings
	Layers []gemmaLayer `gguf:"blk.%d"`
}

type gemmaLayer struct {
	preNorms
	attnProj
	gatedFFN
	postNorms
	// Gemma 3's per-head q/k norms.
	QNorm backend.Tensor `gguf:"attn_q_norm.weight" shape:"qnorm" optional:"true"`
	KNorm backend.Tensor `gguf:"attn_k_norm.weight" shape:"knorm" optional:"true"`
}

func loadGemma2(f *gguf.File, b backend.Backend, progress Progress) (Model, []backend.Buffer, error) {
	h, err := readHyper(f, "gemma2")
	if err != nil {
		return nil, nil, err
	}
	ropeMode(h, backend.RoPENeoX)
	m := meta{f}
	window, err := m.uint("gemma2.attention.sliding_window", 4096, false)
	if err != nil {
		return nil, nil, err
	}
	attnCap, err := m.float("gemma2.attn_logit_softcapping", 50)
	if err != nil {
		return nil, nil, err
	}
	finalCap, err := m.float("gemma2.final_logit_softcapping", 30)
	if err != nil {
		return nil, nil, err
	}
	h.Features = append(h.Features, fmt.Sprintf("sliding window %d on even layers", window),
		fmt.Sprintf("attention soft-cap %g", attnCap), fmt.Sprintf("final soft-cap %g", finalCap))
	// llama.cpp alternates: sliding window on the even layers, global on the odd.
	g := &Gemma{finalSoftCap: finalCap, decoder: newDecoder(b, h, func(i int) attnLayer {
		a := attnLayer{rope: &h.RoPE, softCap: attnCap, preScale: true}
		if i%2 == 0 {
			a.window = window
		}
		return a
	})}
	return g.bind(f, progress, false)
}

func loadGemma3(f *gguf.File, b backend.Backend, progress Progress) (Model, []backend.Buffer, error) {
	h, err := readHyper(f, "gemma3")
	if err != nil {
		return nil, nil, err
	}
	ropeMode(h, backend.RoPENeoX)
	h.qNormSize, h.kNormSize = h.HeadDim, h.HeadDim
	m := meta{f}
	window, err := m.uint("gemma3.attention.sliding_window", 512, false)
	if err != nil {
		return nil, nil, err
	}
	// Sliding layers use base 10000 without scaling unless the file says otherwise.
	localBase, err := m.positive("gemma3.rope.freq_base_swa", 10000)
	if err != nil {
		return nil, nil, err
	}
	g := &Gemma{localRoPE: h.RoPE}
	g.localRoPE.FreqBase, g.localRoPE.FreqScale = localBase, 1
	h.Features = append(h.Features, "per-head q/k RMSNorm",
		fmt.Sprintf("sliding window %d on 5 of every 6 layers (RoPE base %g there)", window, localBase))
	// llama.cpp's pattern: layers with i%6 < 5 slide, every sixth is global.
	g.decoder = newDecoder(b, h, func(i int) attnLayer {
		if i%6 < 5 {
			return attnLayer{rope: &g.localRoPE, window: window, preScale: true}
		}
		return attnLayer{rope: &h.RoPE, preScale: true}
	})
	return g.bind(f, progress, true)
}

func (g *Gemma) bind(f *gguf.File, progress Progress, qkNorms bool) (Model, []backend.Buffer, error) {
	bufs, err := bindWeights(f, g.b, g.h, progress, &g.w)
	if err != nil {
		return nil, nil, err
	}
	for i, layer := range g.w.Layers {
		if err := requireTensors(g.h.Arch, i, map[string]backend.Tensor{"attn_q_norm.weight": layer.QNorm, "attn_k_norm.weight": layer.KNorm}, qkNorms); err != nil {
			return nil, nil, freeAll(g.b, bufs, err)
		}
	}
	return g, bufs, nil
}

// Forward is the Gemma forward pass.
func (m *Gemma) Forward(s *State, kv *Cache) {
	b, h, w := m.b, m.h, &m.w
	x, xb, xb2 := s.act("x"), s.act("xb"), s.act("xb2")

	m.embed(s, w.TokenEmbd, x)
	b.Scale(x, x, float32(math.Sqrt(float64(h.Dim))))
	for l := range w.Layers {
		layer := &w.Layers[l]
		attn := layer.attnProj.weights()
		attn.QNorm, attn.KNorm, attn.perHeadNorm = layer.QNorm, layer.KNorm, true

		// x += rmsnorm(attention(rmsnorm(x)))
		b.RMSNorm(xb, x, layer.AttnNorm, h.NormEps)
		m.attention(s, kv, l, xb, xb2, attn, m.layers[l])
		b.RMSNorm(xb2, xb2, layer.PostAttnNorm, h.NormEps)
		b.Add(x, x, xb2)
		// x += rmsnorm(down(gelu(gate·xb) * up·xb)), xb = rmsnorm(x)
		b.RMSNorm(xb, x, layer.FFNNorm, h.NormEps)
		m.geGLU(s, xb, xb2, layer.gatedFFN)
		b.RMSNorm(xb2, xb2, layer.PostFFNNorm, h.NormEps)
		b.Add(x, x, xb2)
	}
	logits := m.logits(s, x, w.Output, m.rmsNormed(w.OutputNorm))
	if m.finalSoftCap > 0 {
		b.SoftCap(logits, logits, m.finalSoftCap)
	}
}
