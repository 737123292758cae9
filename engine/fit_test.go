package engine

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/internal/testdata"
	"github.com/conveyor-llm/conveyor/model/synth"
)

// TestFitChild is the child process of TestFitMatchesPeakRSS: it estimates,
// loads the model on the CPU, fills the whole context and prints the estimate.
func TestFitChild(t *testing.T) {
	spec := os.Getenv("CONVEYOR_FIT_CHILD")
	if spec == "" {
		t.Skip("run by TestFitMatchesPeakRSS")
	}
	path, ctxStr, _ := strings.Cut(spec, "|")
	ctx, err := strconv.Atoi(ctxStr)
	require.NoError(t, err)
	opts := Options{Backend: "cpu", Threads: 2, Session: SessionOptions{Context: ctx}}
	f, err := gguf.Open(path)
	require.NoError(t, err)
	fit, err := EstimateFit(f, opts, opts.Session)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	m, err := Load(path, opts)
	require.NoError(t, err)
	defer m.Close()
	s, err := m.NewSession(opts.Session)
	require.NoError(t, err)
	defer s.Close()
	tokens := make([]int32, ctx)
	for i := range tokens {
		tokens[i] = int32(3 + i%200)
	}
	_, err = s.prefill(tokens, 0)
	require.NoError(t, err)
	hwm, ok := procStatus("VmHWM:")
	require.True(t, ok)
	fmt.Printf("\nFIT %d %d %d %d %d %d\n", fit.Host, hwm, fit.WeightBytes, fit.KV, fit.Scratch, fit.Process)
}

// peakRSS runs TestFitChild on path with a context of ctx and returns the
// estimate and the child's peak resident memory (its VmHWM, from rusage).
func peakRSS(t *testing.T, path string, ctx int) (est, peak int64, line string) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestFitChild$", "-test.v")
	cmd.Env = append(os.Environ(), fmt.Sprintf("CONVEYOR_FIT_CHILD=%s|%d", path, ctx))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "FIT ") {
			line = l
			est, err = strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			require.NoError(t, err)
			peak, err = strconv.ParseInt(strings.Fields(l)[2], 10, 64)
			require.NoError(t, err)
		}
	}
	require.NotEmpty(t, line, "%s", out)
	return est, peak, line
}

func TestFitMatchesPeakRSS(t *testing.T) {
	if _, ok := residentMemory(); !ok {
		t.Skip("no /proc/self/status")
	}
	if raceDetector {
		t.Skip("the race detector's shadow memory is not what a user's process holds")
	}
	dir := t.TempDir()
	cases := []struct {
		name, path string
		ctx        int
	}{{"stories260K", testdata.Path(t, "models/stories260K.gguf"), 512}}
	// TinyLlama's shape (32 heads of 64 over 4 KV heads, FFN 2.75x, 32000
	// tokens), narrower and shallower.
	for _, typ := range []gguf.Type{gguf.TypeQ4_K, gguf.TypeF16} {
		p := filepath.Join(dir, "tl-"+typ.String()+".gguf")
		require.NoError(t, synth.Write(p, synth.Config{Arch: "llama", Dim: 512, Layers: 4, Heads: 8, KVHeads: 1, FFN: 1536,
			VocabSize: 32000, ContextLength: 2048, Type: typ, Seed: 7}))
		cases = append(cases, struct {
			name, path string
			ctx        int
		}{"synthetic TinyLlama-shaped " + typ.String(), p, 2048})
	}
	for _, c := range cases {
		est, peak, line := peakRSS(t, c.path, c.ctx)
		ratio := float64(est) / float64(peak)
		t.Logf("%s, context %d: estimate %s, peak RSS %s (%.3f) [%s]", c.name, c.ctx, humanBytes(float64(est)), humanBytes(float64(peak)), ratio, line)
		require.InDelta(t, 1, ratio, 0.10, "%s: estimate %d, peak %d", c.name, est, peak)
	}
}

func TestFitRefusesBeforeAllocating(t *testing.T) {
	path := testdata.Path(t, "models/stories260K.gguf")
	saved := availableMemory
	defer func() { availableMemory = saved }()
	availableMemory = func() (int64, bool) { return 64 << 20, true }

	// stories260K: 640 B of f16 cache per position; 1M positions is 640 MiB.
	_, err := Load(path, Options{Backend: "cpu", Threads: 1, Session: SessionOptions{Context: 1 << 20}})
	var fe *FitError
	require.ErrorAs(t, err, &fe)
	require.ErrorContains(t, err, "engine: the model will not fit: it needs")
	require.ErrorContains(t, err, "KV cache 640.0 MiB for 1 sequence x 1048576 positions, f16")
	n := fe.Fit.MaxContext()
	require.Greater(t, n, 1<<15)
	require.Less(t, n, 1<<17)
	require.ErrorContains(t, err, fmt.Sprintf("a context of %d (-c %d) would fit", n, n))
	t.Log(err)

	m, err := Load(path, Options{Backend: "cpu", Threads: 1, Session: SessionOptions{Context: n}})
	require.NoError(t, err, "the context it suggests loads")
	m.Close()

	// Nothing fits: not even the weights.
	availableMemory = func() (int64, bool) { return 1 << 10, true }
	_, err = Load(path, Options{Backend: "cpu", Threads: 1})
	require.ErrorContains(t, err, "nothing smaller would fit here")
	_, err = Load(path, Options{Backend: "cpu", Threads: 1, NoFitCheck: true})
	require.NoError(t, err, "NoFitCheck loads anyway")
}

func TestFitQuantSuggestion(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f32.gguf")
	require.NoError(t, synth.Write(p, synth.Config{Arch: "llama", Dim: 256, Layers: 2, Heads: 4, KVHeads: 2, FFN: 768,
		VocabSize: 1000, Type: gguf.TypeF32, Seed: 1}))
	f, err := gguf.Open(p)
	require.NoError(t, err)
	defer f.Close()
	fit, err := EstimateFit(f, Options{Backend: "cpu"}, SessionOptions{Context: 256})
	require.NoError(t, err)
	require.Equal(t, gguf.TypeF32, fit.Weights[0].Type)
	// Room for the process, cache and scratch and a third of the weights.
	fit.HostKnown, fit.HostFree = true, fit.Process+fit.KV+fit.Scratch+fit.WeightBytes/3
	err = fit.Check()
	require.ErrorContains(t, err, "a Q8_0 quantization (about")
	require.NotContains(t, err.Error(), "context of")
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"123": 123, "64K": 64 << 10, "512M": 512 << 20, "2G": 2 << 30, "1GiB": 1 << 30, "3mb": 3 << 20} {
		got, err := parseBytes(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	_, err := parseBytes("lots")
	require.Error(t, err)
}
