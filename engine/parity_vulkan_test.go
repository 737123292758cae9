//go:build cgo && !novulkan

package engine

import (
	"math"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
	"github.com/conveyor-llm/conveyor/model"
)

// The parity policy between backends: Vulkan need not give the CPU's bits
// (its matmuls sum in another order, its attention splits the sequence and
// uses the device's exp), but with the CPU's greedy ids fed back one by one
// (teacher forcing) its top-10 logits (the CPU's top 10) are within 3e-2 of
// the CPU's at every step, and its greedy choice is the CPU's up to the
// first step whose margin on the CPU is under 0.05. On stories260K (F32 and
// Q8_0) and every model of ../shared/arch. gpt-oss is held to its greedy
// ids only, up to a margin of 0.1: its router meets near-ties that the two
// backends resolve apart, and its MXFP4 experts take activations rounded to
// Q8_0, so its top-10 logits differ by up to 0.45 over these 40 steps, as
// much with the attention that gave the CPU's bits (0.453) as now (0.449).
func TestVulkanFollowsCPU(t *testing.T) {
	models := map[string]string{
		"stories260K":      "models/stories260K.gguf",
		"stories260K-q8_0": "models/stories260K-q8_0.gguf",
	}
	for _, name := range archNames {
		models["arch/"+name] = "arch/" + name + ".gguf"
	}
	for name, path := range models {
		tol, margin := 3e-2, 0.05
		if name == "arch/gpt-oss" {
			tol, margin = math.Inf(1), 0.1
		}
		t.Run(name, func(t *testing.T) { checkFollowsCPU(t, testdata.Path(t, path), tol, margin) })
	}
}

// teacherForced returns the logits after the prompt and after each of ids,
// fed one at a time.
func teacherForced(t *testing.T, path, backendName string, prompt, ids []int32) [][]float32 {
	m, err := Load(path, Options{Backend: backendName, Threads: 2})
	require.NoError(t, err)
	defer m.Close()
	s, err := m.NewSession(SessionOptions{Context: 128})
	require.NoError(t, err)
	defer s.Close()
	logits, err := s.prefill(prompt, 0)
	require.NoError(t, err)
	steps := [][]float32{append([]float32(nil), logits...)}
	for i, id := range ids {
		out, err := s.Forward(model.Batch{Tokens: []int32{id}, Pos: []int32{int32(len(prompt) + i)}, Seq: []int32{0}, Outputs: []int32{0}})
		require.NoError(t, err)
		steps = append(steps, append([]float32(nil), out[0]...))
	}
	return steps
}

func checkFollowsCPU(t *testing.T, path string, tol, minMargin float64) {
	const steps = 40
	m, err := Load(path, Options{Backend: "cpu", Threads: 2})
	require.NoError(t, err)
	prompt := m.Tokenizer().Encode("Once upon a time, there was a little", true, true)
	require.NoError(t, m.Close())
	cpuIDs, _ := greedyRunOn(t, path, "cpu", prompt, steps)
	want := teacherForced(t, path, "cpu", prompt, cpuIDs[:steps-1])
	got := teacherForced(t, path, "vulkan", prompt, cpuIDs[:steps-1])
	worst, agreeing := 0.0, true
	for i := range want {
		order := make([]int, len(want[i]))
		for j := range order {
			order[j] = j
		}
		sort.SliceStable(order, func(a, b int) bool { return want[i][order[a]] > want[i][order[b]] })
		for _, id := range order[:10] {
			d := math.Abs(float64(got[i][id] - want[i][id]))
			worst = math.Max(worst, d)
			require.LessOrEqual(t, d, tol, "step %d: logit of %d is %g on Vulkan, %g on the CPU", i, id, got[i][id], want[i][id])
		}
		margin := want[i][order[0]] - want[i][order[1]]
		agreeing = agreeing && float64(margin) >= minMargin
		if agreeing {
			require.Equal(t, int32(order[0]), argmax(got[i]), "step %d (margin %.3f)", i, margin)
		}
	}
	t.Logf("largest top-10 logit difference from the CPU %.4f over %d steps", worst, len(want))
}

// greedyRunOn is greedyRun on a model loaded on backendName.
func greedyRunOn(t *testing.T, path, backendName string, prompt []int32, steps int) ([]int32, []float32) {
	m, err := Load(path, Options{Backend: backendName, Threads: 2})
	require.NoError(t, err)
	defer m.Close()
	return greedyRun(t, m, prompt, steps)
}
