package model

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Llama is the Llama architecture (Llama 1/2/3, TinyLlama, SmolLM, Mistral-style):
// pre-norm blocks of grouped-query attention with RoPE and a SwiGLU feed-forward.
type Llama struct {
	decoder
	w llamaWeights
}

type llamaWeights struct {
	embeddings
	Layers []llamaLayer `gguf:"blk.%d"`
}

type llamaLayer struct {
	preNorms
	attnProj
	gatedFFN
}

func loadLlama(f *gguf.File, b backend.Backend, progress Progress) (Model, []backend.Buffer, error) {
	h, err := readHyper(f, "llama")
	if err != nil {
		return nil, nil, err
	}
	if hasExperts(f, "llama") {
		return loadMixtral(f, b, h, progress)
	}
	if err := readRoPEFreqs(f, h); err != nil {
		return nil, nil, err
	}
	m := &Llama{decoder: newDecoder(b, h, func(int) attnLayer { return attnLayer{rope: &h.RoPE} })}
	bufs, err := bindWeights(f, b, h, progress, &m.w)
	return m, bufs, err
}

// Forward is the Llama forward pass, one named op at a time. Split across
// backends (LoadPlaced), each layer runs on its own, x moving between them.
func (m *Llama) Forward(s *State, kv *Cache) {
	h, w := m.h, &m.w
	d, ps := m.decoder.on(m.inputOn()), s.on(m.inputOn())
	x := ps.act("x")

	d.embed(ps, w.TokenEmbd, x)
	for l := range w.Layers {
		d, ps, x = d.part(s, ps, x, m.layerOn(l))
		b, xb, xb2 := d.b, ps.act("xb"), ps.act("xb2")
		layer := &w.Layers[l]
		// x += Wo · attend(rope(Wq·xb), rope(Wk·xb), Wv·xb), xb = rmsnorm(x)
		b.RMSNorm(xb, x, layer.AttnNorm, h.NormEps)
		d.attention(ps, kv, l, xb, xb2, layer.attnProj.weights(), m.layers[l])
		b.Add(x, x, xb2)
		// x += Wdown · (silu(Wgate·xb) * Wup·xb), xb = rmsnorm(x)
		b.RMSNorm(xb, x, layer.FFNNorm, h.NormEps)
		d.swiGLU(ps, xb, xb2, layer.Gate, layer.Up, layer.Down)
		b.Add(x, x, xb2)
	}
	d, ps, x = d.part(s, ps, x, m.outputOn())
	d.logits(ps, x, w.Output, d.rmsNormed(w.OutputNorm))
}

// readRoPEFreqs reads Llama 3.1's rope_freqs.weight, when the file has it: one
// divisor per rotated pair, the whole of its RoPE scaling.
func readRoPEFreqs(f *gguf.File, h *Hyper) error {
	t, ok := f.Tensor("rope_freqs.weight")
	if !ok {
		return nil
	}
	if t.Type != gguf.TypeF32 || t.Elements() != uint64(h.RoPE.Dims/2) {
		return fmt.Errorf("model: tensor %q: want %d F32 values (one per rotated pair), have %v %v", t.Name, h.RoPE.Dims/2, t.Type, t.Dims)
	}
	data := f.TensorData(t)
	h.RoPE.Factors = make([]float32, h.RoPE.Dims/2)
	for i := range h.RoPE.Factors {
		h.RoPE.Factors[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		if !(h.RoPE.Factors[i] > 0) {
			return fmt.Errorf("model: tensor %q: factor %d is %g, must be positive", t.Name, i, h.RoPE.Factors[i])
		}
	}
	h.Features = append(h.Features, "RoPE frequency factors (rope_freqs)")
	return nil
}
