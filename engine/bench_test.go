package engine

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// Bench runs a prompt in one pass or in pieces of UBatch, and decodes.
func TestBench(t *testing.T) {
	m, err := Load(testdata.Path(t, "models/stories260K.gguf"), Options{Backend: "cpu", Threads: 2})
	require.NoError(t, err)
	defer m.Close()
	for _, ub := range []int{0, 7, 64, 1000} {
		res, err := m.Bench(BenchOptions{Prompt: 40, Gen: 5, Reps: 2, UBatch: ub})
		require.NoError(t, err, "ubatch %d", ub)
		require.Positive(t, res.PromptTokPerS, "ubatch %d", ub)
		require.Positive(t, res.GenTokPerS, "ubatch %d", ub)
	}
}

// With a depth, the cache holds the context and the prompt and decodes after
// it, past the model's training context (512) too; only pp or only tg work.
func TestBenchDepth(t *testing.T) {
	m, err := Load(testdata.Path(t, "models/stories260K.gguf"), Options{Backend: "cpu", Threads: 2})
	require.NoError(t, err)
	defer m.Close()
	for _, o := range []BenchOptions{
		{Prompt: 40, Gen: 5, Depth: 100},
		{Prompt: 40, Gen: 5, Depth: 600, UBatch: 64},
		{Gen: 5, Depth: 300},
		{Prompt: 20, Depth: 300, UBatch: 7},
	} {
		res, err := m.Bench(o)
		require.NoError(t, err, "%+v", o)
		require.Equal(t, o.Prompt > 0, res.PromptTokPerS > 0, "%+v", o)
		require.Equal(t, o.Gen > 0, res.GenTokPerS > 0, "%+v", o)
	}
	_, err = m.Bench(BenchOptions{Gen: 1, Depth: -1})
	require.Error(t, err)
}
