package model

import (
	"context"
	"fmt"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Placement puts the parts of a model on backends: partial offload, some
// layers on a GPU and the rest on the CPU. The forward pass runs each layer
// on its backend, with that layer's weights, activations and KV cache there,
// and copies the hidden state between backends where consecutive parts differ.
type Placement struct {
	Input  backend.Backend   // the token embedding lookup
	Layers []backend.Backend // one per layer
	Output backend.Backend   // the final norm and the output matrix
}

// Offload is llama.cpp's -ngl split of a model of layers layers: the last n
// layers on gpu, the others and the input embedding on cpu, and the output
// layer on gpu only when every layer is there (n >= layers).
func Offload(cpu, gpu backend.Backend, layers, n int) Placement {
	p := Placement{Input: cpu, Output: cpu, Layers: make([]backend.Backend, layers)}
	for l := range p.Layers {
		p.Layers[l] = cpu
		if l >= layers-n {
			p.Layers[l] = gpu
		}
	}
	if n >= layers {
		p.Output = gpu
	}
	return p
}

// Backends are the distinct backends of p, the output's first.
func (p *Placement) Backends() []backend.Backend {
	out := []backend.Backend{p.Output}
	for _, b := range append([]backend.Backend{p.Input}, p.Layers...) {
		seen := false
		for _, o := range out {
			seen = seen || o == b
		}
		if !seen {
			out = append(out, b)
		}
	}
	return out
}

// CanPlace reports whether the architecture of f can be split across
// backends (LoadPlaced), and if not, why.
func CanPlace(f *gguf.File) error {
	arch, err := Architecture(f)
	if err != nil {
		return err
	}
	if arch != "llama" || hasExperts(f, arch) {
		return fmt.Errorf("model: offloading part of a %s model is not supported yet (only dense llama models): put all its layers on the GPU or none", arch)
	}
	return nil
}

// LoadPlaced is LoadContext with the model split across backends as p says.
// The weights' buffers are returned by the backend that owns them.
func LoadPlaced(ctx context.Context, f *gguf.File, p Placement, progress Progress) (m Model, bufs map[backend.Backend][]backend.Buffer, err error) {
	if err := CanPlace(f); err != nil {
		return nil, nil, err
	}
	h, err := readHyper(f, "llama")
	if err != nil {
		return nil, nil, err
	}
	if len(p.Layers) != h.Layers {
		return nil, nil, fmt.Errorf("model: a placement of %d layers for a model of %d", len(p.Layers), h.Layers)
	}
	if err := readRoPEFreqs(f, h); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if ctx.Done() != nil {
		inner := progress
		progress = func(done, total int64) {
			if err := ctx.Err(); err != nil {
				panic(cancelled{err})
			}
			if inner != nil {
				inner(done, total)
			}
		}
	}
	var l *weightLoader
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(cancelled)
			if !ok {
				panic(r)
			}
			l.freeOwned()
			m, bufs, err = nil, nil, c.err
		}
	}()
	ll := &Llama{decoder: newDecoder(p.Output, h, func(int) attnLayer { return attnLayer{rope: &h.RoPE} })}
	ll.place = &p
	if h.Vocab, err = vocabSize(f, h.Arch); err != nil {
		return nil, nil, err
	}
	l = &weightLoader{f: f, b: p.Output, sizes: h.sizes(), layers: h.Layers, progress: progress, place: &p}
	for _, t := range f.Tensors {
		l.total += int64(t.Bytes())
	}
	if err := l.bind(&ll.w); err != nil {
		l.freeOwned()
		return nil, nil, err
	}
	return ll, l.ownedBy, nil
}

// on is the decoder computing on b.
func (d *decoder) on(b backend.Backend) *decoder {
	if b == d.b {
		return d
	}
	c := *d
	c.b = b
	return &c
}

// hop moves the forward pass to backend to: the decoder and state there, and
// x (the hidden state, activation "x" of state s) copied into that state's x.
func (d *decoder) hop(top *State, s *State, x backend.Tensor, to backend.Backend) (*decoder, *State, backend.Tensor) {
	ns := top.on(to)
	nx := ns.act("x")
	if need := int(x.Bytes()); cap(top.xfer) < need {
		top.xfer = make([]byte, need)
	}
	buf := top.xfer[:x.Bytes()]
	if err := d.b.Read(x, buf); err != nil && top.err == nil {
		top.err = fmt.Errorf("model: reading the hidden state from %s: %w", d.b.Name(), err)
	}
	if err := to.Write(nx, buf); err != nil && top.err == nil {
		top.err = fmt.Errorf("model: writing the hidden state to %s: %w", to.Name(), err)
	}
	return d.on(to), ns, nx
}
