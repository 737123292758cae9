//go:build cgo && !nocuda

package engine

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/internal/testdata"
	"github.com/conveyor-llm/conveyor/model"
)

// requireCUDA runs a test on the CUDA backend: the device's, else the
// emulator's (useEmulatedCUDA), else it skips saying why.
func requireCUDA(t *testing.T) {
	t.Helper()
	b, err := OpenBackend(Options{Backend: "cuda"})
	if err != nil {
		useEmulatedCUDA(t, err)
		return
	}
	b.Close()
}

// Without CUDA, --backend cuda says why in one error, and auto chooses as
// it did before CUDA existed (silent about CUDA where there is no driver).
func TestCUDAUnavailableSaysWhy(t *testing.T) {
	_, err := OpenBackend(Options{Backend: "cuda"})
	if err == nil {
		t.Skip("CUDA works here")
	}
	require.True(t, strings.HasPrefix(err.Error(), "backend: cuda: "), err.Error())
	var logged []string
	b, err2 := OpenBackend(Options{Log: func(f string, a ...any) { logged = append(logged, f) }})
	require.NoError(t, err2)
	defer b.Close()
	require.NotEqual(t, "cuda", b.Name())
	require.Len(t, logged, 1)
	_, err = OpenBackend(Options{Backend: "cuda", Device: 99, DeviceSet: true})
	require.Error(t, err)
}

// stories260K on CUDA follows the CPU with teacher forcing: the CPU's
// greedy ids fed back one by one, every step's logits within tol of the
// CPU's (largest difference) and the same greedy choice wherever the CPU's
// top-1 leads by 0.05. With an F32 cache the only differences are the order
// of float sums (F32 matmuls) and the device's exp: 1e-4 (8.6e-6 measured
// on the emulator). An F16 cache rounds keys, values and the attention
// accumulator to F16, so a last-bit difference upstream now and then flips
// a rounding, and the flips add up over the steps: 3e-2, the Vulkan
// tolerance (the F32 model measured 0.008 on the emulator, Vulkan 0.004;
// the Q8_0 model, whose matmuls are exact integer sums, 2e-6).
func TestCUDAStories260KTeacherForcing(t *testing.T) {
	requireCUDA(t)
	for _, c := range []struct {
		file, cache string
		tol         float64
	}{
		{"models/stories260K.gguf", "f32", 1e-4},
		{"models/stories260K.gguf", "f16", 3e-2},
		{"models/stories260K-q8_0.gguf", "f16", 3e-2},
	} {
		t.Run(c.file+"/"+c.cache, func(t *testing.T) {
			path := testdata.Path(t, c.file)
			cpu, err := Load(path, Options{Backend: "cpu", Threads: 2})
			require.NoError(t, err)
			defer cpu.Close()
			gpu, err := Load(path, Options{Backend: "cuda"})
			require.NoError(t, err)
			defer gpu.Close()
			require.Equal(t, "cuda", gpu.Backend().Name())

			ids := cpu.Tokenizer().Encode("Once upon a time, there was a little", true, true)
			sc, err := cpu.NewSession(SessionOptions{Context: 256, CacheType: c.cache})
			require.NoError(t, err)
			defer sc.Close()
			sg, err := gpu.NewSession(SessionOptions{Context: 256, CacheType: c.cache})
			require.NoError(t, err)
			defer sg.Close()
			want, err := sc.prefill(ids, 0)
			require.NoError(t, err)
			got, err := sg.prefill(ids, 0)
			require.NoError(t, err)
			worst := 0.0
			for step := range 64 {
				for i := range want {
					worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
				}
				require.LessOrEqual(t, worst, c.tol, "step %d", step)
				next := argmax(want)
				if margin(want) >= 0.05 {
					require.Equal(t, next, argmax(got), "step %d", step)
				}
				batch := model.Batch{Tokens: []int32{next}, Pos: []int32{int32(len(ids) + step)}, Seq: []int32{0}, Outputs: []int32{0}}
				w, err := sc.Forward(batch)
				require.NoError(t, err)
				g, err := sg.Forward(batch)
				require.NoError(t, err)
				want, got = w[0], g[0]
			}
			t.Logf("%s, %s cache: largest logit difference from the CPU %.4g over 64 steps", c.file, c.cache, worst)
		})
	}
}

// margin is the lead of the largest logit over the second.
func margin(xs []float32) float64 {
	a, b := math.Inf(-1), math.Inf(-1)
	for _, x := range xs {
		v := float64(x)
		if v > a {
			a, b = v, a
		} else if v > b {
			b = v
		}
	}
	return a - b
}

// Every architecture the CUDA backend runs matches llama.cpp as the CPU and
// Vulkan do (arch_test.go); those with Gated DeltaNet layers refuse it.
func TestCUDAArchitecturesMatchLlamaCpp(t *testing.T) {
	requireCUDA(t)
	for _, name := range archNames {
		t.Run(name, func(t *testing.T) {
			if strings.HasPrefix(name, "qwen35") || name == "qwen3next" {
				_, err := Load(testdata.Path(t, "arch/"+name+".gguf"), Options{Backend: "cuda"})
				require.ErrorContains(t, err, "not implemented on the cuda backend")
				return
			}
			emulatedOnly(t, name, "llama3", "gemma2", "gpt-oss")
			testArchitecture(t, "cuda", name)
		})
	}
}

// Batch invariance holds on CUDA bit for bit, as on the other backends.
func TestCUDABatchInvariance(t *testing.T) {
	requireCUDA(t)
	if emulatedSubset() {
		for name, path := range map[string]string{
			"stories260K-q8_0": testdata.Path(t, "models/stories260K-q8_0.gguf"),
			"synth-q4_0":       synthModel(t, gguf.TypeQ4_0),
			"synth-f16":        synthModel(t, gguf.TypeF16),
		} {
			t.Run(name, func(t *testing.T) { checkBatchInvariance(t, "cuda", path) })
		}
		return
	}
	testBatchInvariance(t, "cuda")
}
