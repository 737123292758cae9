package model

import (
	"fmt"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// newDecoder is the shared part of a model: layer i attends as layer(i) says.
func newDecoder(b backend.Backend, h *Hyper, layer func(i int) attnLayer) decoder {
	d := decoder{b: b, h: h, layers: make([]attnLayer, h.Layers)}
	for i := range d.layers {
		d.layers[i] = layer(i)
	}
	return d
}

// bindWeights completes the hyperparameters with the vocabulary size and binds
// the tagged weights of w (a pointer to the architecture's weight struct).
func bindWeights(f *gguf.File, b backend.Backend, h *Hyper, progress Progress, w any) ([]backend.Buffer, error) {
	var err error
	if h.Vocab, err = vocabSize(f, h.Arch); err != nil {
		return nil, err
	}
	l, err := newWeightLoader(f, b, h.sizes(), h.Layers, progress)
	if err != nil {
		return nil, err
	}
	if err := l.bind(w); err != nil {
		for _, buf := range l.owned {
			b.Free(buf)
		}
		return nil, err
	}
	return l.owned, nil
}

// ropeMode sets the RoPE variant, which the file does not store: it follows
// from the architecture.
func ropeMode(h *Hyper, mode backend.RoPEMode) {
	h.RoPE.Mode = mode
	if mode == backend.RoPENeoX {
		h.Features = append(h.Features, "NeoX RoPE")
	}
}

// requireTensors checks that optional tensors an architecture variant needs
// are all there (want) or all absent (!want).
func requireTensors(arch string, layer int, tensors map[string]backend.Tensor, want bool) error {
	for name, t := range tensors {
		if (t.Buf != nil) != want {
			if want {
				return fmt.Errorf("model: %s: missing tensor %q", arch, fmt.Sprintf("blk.%d.%s", layer, name))
			}
			return fmt.Errorf("model: %s: unexpected tensor %q", arch, fmt.Sprintf("blk.%d.%s", layer, name))
		}
	}
	return nil
}

// freeAll frees bufs and returns err.
func freeAll(b backend.Backend, bufs []backend.Buffer, err error) error {
	for _, buf := range bufs {
		b.Free(buf)
	}
	return err
}
