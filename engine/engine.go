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
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/model"
	"github.com/conveyor-llm/conveyor/tokenizer"
)

// Options choose where and how a model runs.
type Options struct {
	// Backend is "auto" (the default: a GPU if there is one, else the CPU),
	// "cpu" or "vulkan".
	Backend string
	// Device picks a Vulkan device by its number in `conveyor devices`; -1 or
	// unset (with DeviceSet false) picks the best one.
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
}

// Model is a loaded model: weights resident on a backend, and its tokenizer.
type Model struct {
	file    *gguf.File
	arch    model.Model
	tok     *tokenizer.Tokenizer
	backend backend.Backend
	weights []backend.Buffer
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
	if !opts.NoFitCheck {
		if fit, err := EstimateFit(f, opts, opts.Session); err == nil {
			if err := fit.Check(); err != nil {
				return nil, err
			}
		}
	}
	b, err := OpenBackend(opts)
	if err != nil {
		return nil, err
	}
	arch2, weights, err := model.LoadContext(ctx, f, b, opts.Progress)
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
	err := m.backend.Close()
	m.backend = nil
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
