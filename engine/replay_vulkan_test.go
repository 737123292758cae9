//go:build cgo && !novulkan

package engine

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/backend/vulkan"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// Decoding with recorded steps replayed and fused dispatches gives the
// logits that recording every op afresh, each its own dispatch
// (CONVEYOR_VK_NO_REPLAY=1, CONVEYOR_VK_NO_FUSION=1), gives, bit for bit,
// through prefill chunks, single-token decodes and a two-sequence batch.
func TestReplayedDecodeMatchesFreshVulkan(t *testing.T) {
	models := map[string]string{
		"stories260K":      testdata.Path(t, "models/stories260K.gguf"),
		"stories260K-q8_0": testdata.Path(t, "models/stories260K-q8_0.gguf"),
		"synth-q4_0":       synthModel(t, gguf.TypeQ4_0),
	}
	// The mixture-of-experts models (mixtral, qwen3moe, gpt-oss, qwen35moe,
	// qwen3next) route on the device, so their steps are kept too.
	for _, arch := range []string{"gemma2", "gemma3", "gpt2", "llama3", "olmo2", "phi3", "qwen2", "qwen3", "qwen35", "smollm3",
		"mixtral", "qwen3moe", "gpt-oss", "qwen35moe", "qwen3next"} {
		models["arch/"+arch] = testdata.Path(t, "arch/"+arch+".gguf")
	}
	for name, path := range models {
		t.Run(name, func(t *testing.T) {
			fresh := decodeLogits(t, path, "1")
			replayed := decodeLogits(t, path, "")
			kept := replayed[len(replayed)-1][0]
			require.Greater(t, kept, float32(0), "steps kept for replay")
			fresh, replayed = fresh[:len(fresh)-1], replayed[:len(replayed)-1]
			require.Equal(t, len(fresh), len(replayed))
			for i := range fresh {
				require.Equal(t, fresh[i], replayed[i], "step %d", i)
			}
		})
	}
}

// decodeLogits prefills a prompt in two chunks, then decodes greedily,
// alternating one sequence and two; it returns every step's logits, the last
// argmax, and last of all the number of steps the backend kept for replay.
func decodeLogits(t *testing.T, path, plain string) [][]float32 {
	t.Setenv(vulkan.NoReplayEnv, plain)
	t.Setenv(vulkan.NoFusionEnv, plain)
	m, err := Load(path, Options{Backend: "vulkan"})
	require.NoError(t, err)
	defer m.Close()
	s, err := m.NewSession(SessionOptions{Context: 64, Sequences: 2, BatchSize: 16})
	require.NoError(t, err)
	defer s.Close()
	var all [][]float32
	keep := func(rows [][]float32) {
		for _, r := range rows {
			all = append(all, append([]float32(nil), r...))
		}
	}
	prompt := []int32{1, 403, 407, 261, 378, 432, 383, 286, 261, 376}
	for _, r := range [][2]int{{0, 5}, {5, 10}} {
		out, err := s.Forward(seqBatchOf(prompt[r[0]:r[1]], r[0], 0))
		require.NoError(t, err)
		keep(out)
	}
	out, err := s.Forward(seqBatchOf(prompt[:3], 0, 1))
	require.NoError(t, err)
	keep(out)
	next, pos := [2]int32{argmax(all[1]), argmax(all[2])}, [2]int32{10, 3}
	for step := range 12 {
		b := seqBatchOf([]int32{next[0]}, int(pos[0]), 0)
		if step%3 == 2 { // both sequences, one token each
			b.Tokens, b.Pos, b.Seq, b.Outputs = append(b.Tokens, next[1]), append(b.Pos, pos[1]), append(b.Seq, 1), []int32{0, 1}
		}
		out, err := s.Forward(b)
		require.NoError(t, err)
		keep(out)
		for i, row := range out {
			next[i], pos[i] = argmax(row), pos[i]+1
		}
	}
	ids, err := s.forwardArgmax(seqBatchOf([]int32{next[0]}, int(pos[0]), 0))
	require.NoError(t, err)
	all = append(all, []float32{float32(ids[0])})
	return append(all, []float32{float32(m.backend.(*vulkan.Backend).KeptGraphs())})
}
