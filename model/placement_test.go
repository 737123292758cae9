package model

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/backend/cpu"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// lastLogits runs the prompt through m, one batch, and reads the logits.
func lastLogits(t *testing.T, m Model, s *State, kv *Cache, tokens []int32) []byte {
	b := Batch{Tokens: tokens, Pos: make([]int32, len(tokens)), Seq: make([]int32, len(tokens)), Outputs: []int32{int32(len(tokens) - 1)}}
	for i := range b.Pos {
		b.Pos[i] = int32(i)
	}
	require.NoError(t, s.SetBatch(b, kv))
	m.Forward(s, kv)
	require.NoError(t, s.Err())
	out := make([]byte, s.Logits.Slice(0, 1).Bytes())
	require.NoError(t, s.Backend().Read(s.Logits.Slice(0, 1), out))
	return out
}

func newCache(t *testing.T, h *Hyper, place func(l int) backend.Backend) *Cache {
	kv := &Cache{Seqs: 1, Context: 32}
	for l := range h.Layers {
		for _, dst := range []*[]backend.Tensor{&kv.K, &kv.V} {
			tt := backend.Tensor{Type: gguf.TypeF32, Rows: 32, Cols: h.KVDim()}
			buf, err := place(l).Alloc(tt.Bytes())
			require.NoError(t, err)
			tt.Buf = buf
			*dst = append(*dst, tt)
		}
	}
	return kv
}

// A model split across two CPU backends computes what it does on one: the
// same ops on the same values, the hidden state copied at each split.
func TestPlacedMatchesOneBackend(t *testing.T) {
	f, err := gguf.Open(testdata.Path(t, "models/stories260K.gguf"))
	require.NoError(t, err)
	defer f.Close()
	tokens := []int32{1, 403, 407, 261, 378}

	one := cpu.New(1)
	defer one.Close()
	m, _, err := Load(f, one, nil)
	require.NoError(t, err)
	h := m.Hyper()
	s, err := NewState(one, 8, 1, h.Vocab, h.Activations())
	require.NoError(t, err)
	want := lastLogits(t, m, s, newCache(t, h, func(int) backend.Backend { return one }), tokens)

	a, b := cpu.New(1), cpu.New(1)
	defer a.Close()
	defer b.Close()
	for _, n := range []int{1, 3, h.Layers} {
		p := Offload(a, b, h.Layers, n)
		pm, bufs, err := LoadPlaced(context.Background(), f, p, nil)
		require.NoError(t, err)
		require.Len(t, bufs, 2)
		ps, err := NewPlacedState(p, 8, 1, h.Vocab, h.Activations())
		require.NoError(t, err)
		got := lastLogits(t, pm, ps, newCache(t, h, func(l int) backend.Backend { return p.Layers[l] }), tokens)
		require.Equal(t, want, got, "-ngl %d", n)
		ps.Free()
	}
}

// Only dense llama models can be split yet.
func TestCanPlace(t *testing.T) {
	m := newTinyLlama()
	require.NoError(t, CanPlace(m.open(t)))
	m.set("general.architecture", "gpt2")
	require.ErrorContains(t, CanPlace(m.open(t)), "offloading part of a gpt2 model is not supported yet")
}
