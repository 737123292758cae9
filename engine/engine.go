// Package engine is Conveyor's library: load a GGUF model onto a backend, open
// sessions with their own KV cache, and generate text token by token.
//
//	m, err := engine.Load("model.gguf", engine.Options{})
//	s, err := m.NewSession(engine.SessionOptions{})
//	res, err := s.Generate(ctx, engine.Request{Prompt: "Once upon a time", MaxTokens: 64},
//		func(t engine.Token) error { fmt.Print(t.Text); return nil })
package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/backend/cpu"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/model"
	"github.com/conveyor-llm/conveyor/tokenizer"
)

// Options choose where and how a model runs.
type Options struct {
	// Backend is "auto" (the default: a GPU if there is one, CUDA before
	// Vulkan, else the CPU), "cpu", "vulkan" or "cuda".
	Backend string
	// Device picks a device of the backend by its number in `conveyor
	// devices`; -1 or unset (with DeviceSet false) picks the best one.
	Device    int
	DeviceSet bool
	// Threads for the CPU backend; 0: one per core.
	Threads int
	// Progress, when set, is told how much of the weights has loaded.
	Progress model.Progress
	// Log, when set, receives one-line notes (which backend was picked and why).
	Log func(format string, args ...any)
	// Session is the session the caller means to open (zero fields: the
	// defaults NewSession takes): Load first estimates the weights, its KV
	// cache and scratch (EstimateFit) and refuses, with the numbers, a model
	// that will not fit in free memory, before allocating anything.
	Session SessionOptions
	// NoFitCheck skips that check.
	NoFitCheck bool
	// GPULayers is llama.cpp's -ngl on Vulkan: N > 0 keeps the last N layers
	// on the device and the others, the input embedding and the output on
	// the CPU backend (N at least the model's layers: all on the device);
	// 0, the default, puts as many as fit the device budget there (all of
	// them when the model fits), found by EstimateFit. Only dense llama
	// models can be split. (For none on the device, Backend "cpu".)
	GPULayers int
}

// Model is a loaded model: weights resident on a backend, and its tokenizer.
type Model struct {
	file    *gguf.File
	arch    model.Model
	tok     *tokenizer.Tokenizer
	backend backend.Backend
	weights []backend.Buffer
	// A model split across backends (partial offload): backend is the GPU,
	// cpu the CPU backend beside it, place which part runs where, and
	// placed the weights' buffers by backend.
	cpu    backend.Backend
	place  *model.Placement
	placed map[backend.Backend][]backend.Buffer
	// LoadTime is how long Load took.
	LoadTime time.Duration

	// The embedding runner, made on first use (embed.go).
	embedOnce sync.Once
	embedRun  *embedRunner
	embedErr  error
	embedFree func()

	gvocab grammarVocab // token tries for constrained sampling (constrain.go)
}

// Load opens the GGUF file at path and loads its model onto the chosen backend.
func Load(path string, opts Options) (*Model, error) {
	return LoadContext(context.Background(), path, opts)
}

// LoadContext is Load that stops when ctx is done (checked between tensors)
// and returns ctx's error, having freed what it loaded.
func LoadContext(ctx context.Context, path string, opts Options) (*Model, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	start := time.Now()
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	m, err := load(ctx, f, opts)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.LoadTime = time.Since(start)
	return m, nil
}

// LoadBytes loads a model from a GGUF file held in memory, such as one built
// into the binary (see models/stories260k). The weights are copied to the
// backend; the model keeps data for its metadata, so data must not change
// while the model is open.
func LoadBytes(data []byte, opts Options) (*Model, error) {
	start := time.Now()
	f, err := gguf.Parse(data)
	if err != nil {
		return nil, err
	}
	m, err := load(context.Background(), f, opts)
	if err != nil {
		return nil, err
	}
	m.LoadTime = time.Since(start)
	return m, nil
}

func load(ctx context.Context, f *gguf.File, opts Options) (*Model, error) {
	arch, err := model.Architecture(f)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		return nil, err
	}
	gpuLayers := -1 // all on the one backend
	fit, fitErr := EstimateFit(f, opts, opts.Session)
	if fitErr == nil && fit.Backend == "vulkan" && opts.GPULayers > 0 && opts.GPULayers < fit.Layers {
		gpuLayers = opts.GPULayers
		fit = fit.Partial(gpuLayers)
	} else if fitErr == nil && fit.Backend == "vulkan" && opts.GPULayers == 0 && !opts.NoFitCheck && !fit.Fits() {
		if n := fit.LayersThatFit(); n > 0 && model.CanPlace(f) == nil {
			gpuLayers = n
			fit = fit.Partial(n)
			if opts.Log != nil {
				opts.Log("offload: %d of %d layers fit on %s (%s budget, %s): the rest run on the CPU backend",
					n, fit.Layers, fit.Device, humanBytes(float64(fit.DeviceFree)), fit.DeviceFreeSource)
			}
		}
	}
	if fitErr == nil && !opts.NoFitCheck {
		if err := fit.Check(); err != nil {
			return nil, err
		}
	}
	if gpuLayers > 0 {
		if err := model.CanPlace(f); err != nil {
			return nil, err
		}
	}
	b, err := OpenBackend(opts)
	if err != nil {
		return nil, err
	}
	if gpuLayers > 0 && b.Name() != "cpu" {
		return loadPlaced(ctx, f, tok, b, opts, gpuLayers)
	}
	arch2, weights, err := model.LoadContext(ctx, f, b, opts.Progress)
	if err != nil && b.Name() == "cuda" && (opts.Backend == "" || opts.Backend == "auto") && ctx.Err() == nil {
		// auto chose CUDA for a model it cannot run: the next choice.
		b.Close()
		if opts.Log != nil {
			opts.Log("backend: cuda cannot run this model (%v); choosing again without it", err)
		}
		if b, err = openBackend(opts, true); err != nil {
			return nil, err
		}
		arch2, weights, err = model.LoadContext(ctx, f, b, opts.Progress)
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	if got := arch2.Hyper().Vocab; got != tok.VocabSize() {
		b.Close()
		return nil, fmt.Errorf("model: %s has %d tokens in its vocabulary but %d embedding rows", arch, tok.VocabSize(), got)
	}
	return &Model{file: f, arch: arch2, tok: tok, backend: b, weights: weights}, nil
}

// loadPlaced loads f with its last n layers on gpu and the rest on a CPU
// backend opened beside it.
func loadPlaced(ctx context.Context, f *gguf.File, tok *tokenizer.Tokenizer, gpu backend.Backend, opts Options, n int) (*Model, error) {
	h, err := model.Describe(f)
	if err != nil {
		gpu.Close()
		return nil, err
	}
	c := cpu.New(opts.Threads)
	p := model.Offload(c, gpu, h.Layers, n)
	arch, placed, err := model.LoadPlaced(ctx, f, p, opts.Progress)
	if err == nil && arch.Hyper().Vocab != tok.VocabSize() {
		err = fmt.Errorf("model: %s has %d tokens in its vocabulary but %d embedding rows", h.Arch, tok.VocabSize(), arch.Hyper().Vocab)
	}
	if err != nil {
		gpu.Close()
		c.Close()
		return nil, err
	}
	if opts.Log != nil {
		opts.Log("offload: layers %d-%d of %d on %s, layers 0-%d, the input embedding and the output on the CPU",
			h.Layers-n, h.Layers-1, h.Layers, gpu.Name(), h.Layers-n-1)
	}
	return &Model{file: f, arch: arch, tok: tok, backend: gpu, cpu: c, place: &p, placed: placed}, nil
}

// GPULayers is how many layers run on the GPU: all of them unless the model
// is split (partial offload), none on the CPU backend.
func (m *Model) GPULayers() int {
	switch {
	case m.place != nil:
		n := 0
		for _, b := range m.place.Layers {
			if b == m.backend {
				n++
			}
		}
		return n
	case m.backend != nil && m.backend.Name() == "cpu":
		return 0
	}
	return m.arch.Hyper().Layers
}

// ErrModelClosed is returned by a Model's methods after Close.
var ErrModelClosed = errors.New("engine: model closed")

// Close frees the model's memory on its backend and unmaps the file. Close
// sessions and schedulers first; a second Close does nothing.
func (m *Model) Close() error {
	if m.backend == nil {
		return nil
	}
	if m.embedFree != nil {
		m.embedFree()
		m.embedFree = nil
	}
	for _, buf := range m.weights {
		m.backend.Free(buf)
	}
	m.weights = nil
	for b, bufs := range m.placed {
		for _, buf := range bufs {
			b.Free(buf)
		}
	}
	m.placed = nil
	err := m.backend.Close()
	m.backend = nil
	if m.cpu != nil {
		if cerr := m.cpu.Close(); err == nil {
			err = cerr
		}
		m.cpu = nil
	}
	if ferr := m.file.Close(); err == nil {
		err = ferr
	}
	return err
}

// Tokenizer is the model's tokenizer.
func (m *Model) Tokenizer() *tokenizer.Tokenizer { return m.tok }

// Hyper is the model's hyperparameters.
func (m *Model) Hyper() *model.Hyper { return m.arch.Hyper() }

// Backend is the backend the model runs on.
func (m *Model) Backend() backend.Backend { return m.backend }

// File is the model's GGUF file.
func (m *Model) File() *gguf.File { return m.file }
