package model

import (
	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// loadSmolLM3 loads SmolLM3: Llama with no RoPE on every fourth layer
// (layers i with (i+1)%4 == 0, llama.cpp's fixed pattern). Its forward pass is
// Llama's; only how each layer attends differs.
func loadSmolLM3(f *gguf.File, b backend.Backend, progress Progress) (Model, []backend.Buffer, error) {
	h, err := readHyper(f, "smollm3")
	if err != nil {
		return nil, nil, err
	}
	h.Features = append(h.Features, "no RoPE on every fourth layer")
	m := &Llama{decoder: newDecoder(b, h, func(i int) attnLayer {
		if (i+1)%4 == 0 {
			return attnLayer{}
		}
		return attnLayer{rope: &h.RoPE}
	})}
	bufs, err := bindWeights(f, b, h, progress, &m.w)
	return m, bufs, err
}
