package engine

import (
	"fmt"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/model"
)

// Hybrid linear-attention models (Qwen 3.5, Qwen3-Next) keep, besides the
// KV cache, a recurrent state per sequence in each Gated DeltaNet layer. A
// token at position 0 starts its sequence's state afresh; every other token
// continues it. Unlike a KV cache, the state cannot be cut back to an
// arbitrary position: it summarises every token before it. So prefix reuse
// keeps a cached history only when the new prompt extends all of it (the
// state is then exactly the state after the common prefix: a checkpoint at
// its end); any shorter common prefix is recomputed from position 0.

// allocRecurrent allocates the recurrent state of a hybrid model's DeltaNet
// layers, one row per sequence.
func (s *Session) allocRecurrent(h *model.Hyper) error {
	y := h.Hybrid
	if y == nil {
		return nil
	}
	kv := s.kv
	for l := range h.Layers {
		if !y.Recurrent(l) {
			kv.Conv = append(kv.Conv, backend.Tensor{})
			kv.Rec = append(kv.Rec, backend.Tensor{})
			continue
		}
		for _, st := range []struct {
			dst  *[]backend.Tensor
			cols int
		}{{&kv.Conv, y.ConvStateSize()}, {&kv.Rec, y.Net.StateSize()}} {
			t := backend.Tensor{Type: gguf.TypeF32, Rows: kv.Seqs, Cols: st.cols}
			buf, err := s.m.backend.Alloc(t.Bytes())
			if err != nil {
				return fmt.Errorf("engine: recurrent state of %d sequences: %w", kv.Seqs, err)
			}
			s.buffers = append(s.buffers, buf)
			t.Buf = buf
			*st.dst = append(*st.dst, t)
		}
	}
	return nil
}

// recurrent reports whether the model keeps a recurrent state.
func (m *Model) recurrent() bool { return m.arch.Hyper().Hybrid != nil }

// reusableState is reusable for a model with a recurrent state: the whole
// cached history when the prompt extends it, else nothing.
func (m *Model) reusableState(history, prompt []int32) int {
	n := reusable(history, prompt)
	if m.recurrent() && n < len(history) {
		return 0
	}
	return n
}
