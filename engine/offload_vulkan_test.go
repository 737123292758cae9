//go:build cgo && !novulkan

package engine

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/cgo/vk"
	"github.com/conveyor-llm/conveyor/internal/testdata"
	"github.com/conveyor-llm/conveyor/model"
)

// greedyRun decodes steps greedy tokens after the prompt, one Forward each,
// and returns the ids and each step's margin (best minus second logit).
func greedyRun(t *testing.T, m *Model, prompt []int32, steps int) ([]int32, []float32) {
	s, err := m.NewSession(SessionOptions{Context: 128})
	require.NoError(t, err)
	defer s.Close()
	logits, err := s.prefill(prompt, 0)
	require.NoError(t, err)
	var ids []int32
	var margins []float32
	for i := range steps {
		best, second := int32(0), float32(-1e30)
		for j, v := range logits {
			if v > logits[best] {
				best = int32(j)
			}
		}
		for j, v := range logits {
			if int32(j) != best && v > second {
				second = v
			}
		}
		ids = append(ids, best)
		margins = append(margins, logits[best]-second)
		out, err := s.Forward(model.Batch{Tokens: []int32{best}, Pos: []int32{int32(len(prompt) + i)}, Seq: []int32{0}, Outputs: []int32{0}})
		require.NoError(t, err)
		logits = out[0]
	}
	return ids, margins
}

// sameGreedy requires the same ids up to the first step whose margin on the
// CPU is under 0.05 (as the Vulkan parity tests: a near tie may flip).
func sameGreedy(t *testing.T, want, got []int32, margins []float32) {
	for i := range want {
		if margins[i] < 0.05 {
			t.Logf("stopping the comparison at step %d: margin %.3f", i, margins[i])
			return
		}
		require.Equal(t, want[i], got[i], "step %d: want %v, got %v", i, want, got)
	}
}

// A model split between Vulkan and the CPU, by -ngl or by a device budget
// too small for all of it, gives the CPU's greedy ids, and gives back its
// device memory when closed.
func TestPartialOffload(t *testing.T) {
	if _, err := Devices(); err != nil {
		t.Skip(err)
	}
	for _, name := range []string{"models/stories260K.gguf", "models/stories260K-q8_0.gguf"} {
		path := testdata.Path(t, name)
		ref, err := Load(path, Options{Backend: "cpu"})
		require.NoError(t, err)
		prompt := ref.Tokenizer().Encode("Once upon a time, there was a little", true, false)
		want, margins := greedyRun(t, ref, prompt, 24)
		require.NoError(t, ref.Close())

		baseBytes := vk.TotalAllocatedBytes()
		for _, n := range []int{1, 2, 4} {
			m, err := Load(path, Options{Backend: "vulkan", GPULayers: n, Session: SessionOptions{Context: 128}})
			require.NoError(t, err)
			require.Equal(t, n, m.GPULayers())
			require.Equal(t, "vulkan", m.Backend().Name())
			got, _ := greedyRun(t, m, prompt, 24)
			sameGreedy(t, want, got, margins)
			require.NoError(t, m.Close())
			require.Equal(t, baseBytes, vk.TotalAllocatedBytes(), "%s -ngl %d", name, n)
		}
	}

	// A budget for some layers but not all: as many as fit, the rest on the CPU.
	path := testdata.Path(t, "models/stories260K.gguf")
	full, err := Load(path, Options{Backend: "vulkan", NoFitCheck: true})
	require.NoError(t, err)
	fit, err := EstimateFit(full.File(), Options{Backend: "vulkan"}, SessionOptions{Context: 64})
	require.NoError(t, err)
	require.NoError(t, full.Close())
	budget := fit.Partial(2).DeviceBytes + fit.layerBytes[2]/2
	t.Setenv("CONVEYOR_VK_BUDGET", strconv.FormatInt(budget, 10))
	var logged []string
	m, err := Load(path, Options{Backend: "vulkan", Session: SessionOptions{Context: 64},
		Log: func(f string, a ...any) { logged = append(logged, f) }})
	require.NoError(t, err)
	require.Equal(t, 2, m.GPULayers(), "%v", logged)
	require.NoError(t, m.Close())
}
