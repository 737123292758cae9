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
