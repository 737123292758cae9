//go:build cgo && !novulkan

package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/cgo/vk"
	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// Closing a model gives back all its device memory: loading and closing it
// many times leaves nothing behind.
func TestVulkanModelCloseFreesDeviceMemory(t *testing.T) {
	path := testdata.Path(t, "models/stories260K-q8_0.gguf")
	baseDevices, baseBytes := vk.LiveDevices(), vk.TotalAllocatedBytes()
	for i := 0; i < 20; i++ {
		m, err := Load(path, Options{Backend: "vulkan"})
		require.NoError(t, err)
		s, err := m.NewSession(SessionOptions{Context: 64})
		require.NoError(t, err)
		_, err = s.Generate(context.Background(), Request{Prompt: "Lily", MaxTokens: 2, Sampling: DefaultSampling()}, func(Token) error { return nil })
		require.NoError(t, err)
		require.Greater(t, vk.TotalAllocatedBytes(), baseBytes)
		s.Close()
		require.NoError(t, m.Close())
		require.Equal(t, baseDevices, vk.LiveDevices(), "iteration %d", i)
		require.Equal(t, baseBytes, vk.TotalAllocatedBytes(), "iteration %d", i)
	}
}

// auto never picks a CPU-emulated device; it says why it chose the CPU.
func TestAutoSkipsCPUEmulatedDevices(t *testing.T) {
	devs, err := Devices()
	require.NoError(t, err)
	require.NotEmpty(t, devs, "no Vulkan device: install mesa-vulkan-drivers (lavapipe)")
	gpu := false
	for _, d := range devs {
		gpu = gpu || d.Type == "discrete" || d.Type == "integrated"
	}
	var logged []string
	b, err := OpenBackend(Options{Backend: "auto", Log: func(f string, a ...any) { logged = append(logged, f) }})
	require.NoError(t, err)
	defer b.Close()
	if gpu {
		require.Equal(t, "vulkan", b.Name())
	} else {
		require.Equal(t, "cpu", b.Name())
		require.Len(t, logged, 1)
		require.True(t, strings.HasPrefix(logged[0], "backend: cpu"), logged[0])
	}
	_, err = OpenBackend(Options{Backend: "vulkan", Device: len(devs), DeviceSet: true})
	require.ErrorContains(t, err, "no Vulkan device")
}

// childEnv, in a child process of TestWithoutVulkanLoader, names the check
// the child runs.
const childEnv = "CONVEYOR_ENGINE_TEST_CHILD"

// Without the Vulkan loader (hidden through CONVEYOR_VULKAN_LIBRARY), auto
// uses the CPU and says why in one line, vulkan fails with that reason, and
// cpu never loads Vulkan at all. Each case runs in a child process: this one
// has loaded the loader already.
func TestWithoutVulkanLoader(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("in a child process")
	}
	for _, tc := range []struct{ name, library string }{
		{"missing-loader", "/nonexistent/libvulkan.so.1"},
		{"cpu-only", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestWithoutVulkanLoaderChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), childEnv+"="+tc.name, vk.LibraryEnv+"="+tc.library)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			require.Contains(t, string(out), "--- PASS: TestWithoutVulkanLoaderChild", "%s", out)
		})
	}
}

func TestWithoutVulkanLoaderChild(t *testing.T) {
	switch os.Getenv(childEnv) {
	case "cpu-only":
		b, err := OpenBackend(Options{Backend: "cpu"})
		require.NoError(t, err)
		require.Equal(t, "cpu", b.Name())
		b.Close()
		require.False(t, vk.Loaded(), "--backend cpu loaded the Vulkan loader")
	case "missing-loader":
		why := "vulkan: /nonexistent/libvulkan.so.1 not found: cannot open shared object file"
		var logged []string
		b, err := OpenBackend(Options{Backend: "auto", Log: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }})
		require.NoError(t, err)
		require.Equal(t, "cpu", b.Name())
		b.Close()
		require.Len(t, logged, 1)
		require.True(t, strings.HasPrefix(logged[0], "backend: cpu ("+why), logged[0])
		t.Log(logged[0])

		_, err = OpenBackend(Options{Backend: "vulkan"})
		require.ErrorContains(t, err, "backend: "+why)
		_, err = Devices()
		require.ErrorContains(t, err, why)

		b, err = OpenBackend(Options{Backend: "cpu"})
		require.NoError(t, err)
		b.Close()
		require.False(t, vk.Loaded())
	default:
		t.Skip("run by TestWithoutVulkanLoader")
	}
}

// TestMain fails the run on any Vulkan validation error or warning (the
// validation layer is on when CONVEYOR_VK_VALIDATE=1, as in CI).
func TestMain(m *testing.M) {
	code := m.Run()
	if e, w := vk.ValidationCounts(); e != 0 || w != 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d Vulkan validation errors and %d warnings\n", e, w)
		code = 1
	}
	os.Exit(code)
}

// The bench counts the Vulkan backend's work per decoded token; greedy
// decoding reads back only the argmax.
func TestBenchPerTokenVulkan(t *testing.T) {
	m, err := Load(testdata.Path(t, "models/stories260K.gguf"), Options{Backend: "vulkan"})
	require.NoError(t, err)
	defer m.Close()
	res, err := m.Bench(BenchOptions{Prompt: 8, Gen: 6, Reps: 2})
	require.NoError(t, err)
	pt := res.PerToken
	require.NotNil(t, pt)
	require.Positive(t, pt.Dispatches)
	require.Positive(t, pt.Barriers)
	require.LessOrEqual(t, pt.Barriers, pt.Dispatches+1)
	require.GreaterOrEqual(t, pt.Submits, 1.0)
	require.Positive(t, pt.RecordUS)
	require.Positive(t, pt.RecordUSMedian)
	require.Equal(t, 4.0, pt.ReadbackBytes)
}

// Greedy decoding through the device's argmax generates what the argmax of
// the whole logits row does, on both backends.
func TestGreedyArgmaxVulkan(t *testing.T) {
	for _, be := range []string{"cpu", "vulkan"} {
		m, err := Load(testdata.Path(t, "models/stories260K-q8_0.gguf"), Options{Backend: be, Threads: 2})
		require.NoError(t, err)
		var got [2][]int32
		for i, bias := range []map[int32]float32{nil, {0: 0}} { // a bias, even 0, needs the logits
			s, err := m.NewSession(SessionOptions{Context: 96})
			require.NoError(t, err)
			smp := DefaultSampling()
			smp.LogitBias = bias
			res, err := s.Generate(context.Background(), Request{Prompt: "Once upon a time", MaxTokens: 40, Sampling: smp}, nil)
			require.NoError(t, err)
			got[i] = res.GeneratedIDs
			s.Close()
		}
		require.NotEmpty(t, got[0], be)
		require.Equal(t, got[1], got[0], be)
		require.NoError(t, m.Close())
	}
}

// Sampling with top-k through the device's TopK draws what the sampler draws
// from the whole logits row (the same seed, the same tokens), and reads back
// 8k bytes a token instead of the row.
func TestSampledTopKVulkan(t *testing.T) {
	m, err := Load(testdata.Path(t, "models/stories260K-q8_0.gguf"), Options{Backend: "vulkan", Threads: 2})
	require.NoError(t, err)
	defer m.Close()
	counters := m.backend.(backend.Counting)
	for _, prompt := range []string{"Once upon a time", "The little dog"} {
		for seed := range uint64(3) {
			var got [2][]int32
			var readback [2]int64
			for i, bias := range []map[int32]float32{nil, {0: 0}} { // a bias, even 0, needs the logits
				s, err := m.NewSession(SessionOptions{Context: 96})
				require.NoError(t, err)
				smp := Sampling{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, RepeatPenalty: 1, Seed: seed, LogitBias: bias}
				before := counters.Counters().ReadbackBytes
				res, err := s.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 50, Sampling: smp}, nil)
				require.NoError(t, err)
				got[i], readback[i] = res.GeneratedIDs, counters.Counters().ReadbackBytes-before
				s.Close()
			}
			require.NotEmpty(t, got[0])
			require.Equal(t, got[1], got[0], "%q seed %d", prompt, seed)
			t.Logf("%q seed %d: %d tokens, %d bytes read back (full rows: %d)", prompt, seed, len(got[0]), readback[0], readback[1])
			require.Less(t, readback[0], readback[1]/4)
		}
	}
}
