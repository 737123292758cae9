package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// expected is one of ../shared/models/expected/llamacpp-*.txt.
type expected struct {
	Prompt       string
	PromptIDs    []int32
	GeneratedIDs []int32
	Top10        []TokenLogit
	TextUntilBOS string
}

func readExpected(t *testing.T, name string) expected {
	t.Helper()
	f, err := os.Open(testdata.Path(t, "models/expected/"+name))
	require.NoError(t, err)
	defer f.Close()
	var e expected
	ids := func(s string) []int32 {
		var out []int32
		for _, w := range strings.Fields(s) {
			n, err := strconv.Atoi(w)
			require.NoError(t, err)
			out = append(out, int32(n))
		}
		return out
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ": ")
		require.True(t, ok, "line %q", sc.Text())
		switch {
		case key == "prompt":
			require.NoError(t, json.Unmarshal([]byte(val), &e.Prompt))
		case key == "prompt_ids":
			e.PromptIDs = ids(val)
		case strings.HasPrefix(key, "generated_ids"):
			e.GeneratedIDs = ids(val)
		case key == "top10_after_prompt":
			for _, pair := range strings.Fields(val) {
				id, logit, _ := strings.Cut(pair, ":")
				n, err := strconv.Atoi(id)
				require.NoError(t, err)
				l, err := strconv.ParseFloat(logit, 32)
				require.NoError(t, err)
				e.Top10 = append(e.Top10, TokenLogit{int32(n), float32(l)})
			}
		case key == "text_until_bos":
			require.NoError(t, json.Unmarshal([]byte(val), &e.TextUntilBOS))
		}
	}
	require.NoError(t, sc.Err())
	return e
}

// testBackends are the backends the model-level tests run on: the CPU, and
// Vulkan in builds that have it (lavapipe where there is no GPU).
func testBackends() []string {
	if gpuOpener == nil {
		return []string{"cpu"}
	}
	return []string{"cpu", "vulkan"}
}

func generateGreedy(t *testing.T, m *Model, prompt string, n int) *Result {
	t.Helper()
	s, err := m.NewSession(SessionOptions{})
	require.NoError(t, err)
	defer s.Close()
	res, err := s.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: n, Sampling: DefaultSampling(), TopLogits: 10},
		func(Token) error { return nil })
	require.NoError(t, err)
	return res
}

// The F32 model gives llama.cpp's greedy ids token for token, on every backend,
// and its top-10 logits within 1e-2 (llama.cpp keeps its KV cache in F16, as we
// do by default).
func TestStories260KMatchesLlamaCpp(t *testing.T) {
	for _, b := range testBackends() {
		t.Run(b, func(t *testing.T) {
			m, err := Load(testdata.Path(t, "models/stories260K.gguf"), Options{Backend: b})
			require.NoError(t, err)
			defer m.Close()
			for _, name := range []string{"once-upon-a-time", "lily-and-tom"} {
				t.Run(name, func(t *testing.T) {
					want := readExpected(t, "llamacpp-"+name+".txt")
					res := generateGreedy(t, m, want.Prompt, len(want.GeneratedIDs))
					require.Equal(t, want.PromptIDs, res.PromptIDs)
					require.Equal(t, want.GeneratedIDs, res.GeneratedIDs)
					for i, w := range want.Top10 {
						require.Equal(t, w.ID, res.TopLogits[i].ID, "top-10 rank %d", i)
						require.InDelta(t, w.Logit, res.TopLogits[i].Logit, 1e-2, "top-10 rank %d", i)
					}
				})
			}
		})
	}
}

// The Q8_0 model, computed as llama.cpp's x86 build computes it (activations
// quantized to Q8_0 with its rounding, its flash attention with an F16
// accumulator, its vectorized SwiGLU and fused RoPE, and Q8_0 dots folding
// each block in with one FMA as its AMX kernel does), follows llama.cpp's
// greedy ids; quantizing activations to 8 bits turns any difference of one
// rounding into logit differences of ~0.05, enough to flip the near-ties of
// a long generation.
//
// Vulkan need not give the CPU's bits (the parity policy: its matmul sums in
// another order, its attention uses the device's exp and fma, its RMSNorm,
// RoPE and SwiGLU round differently), so its ids follow the CPU's only up to
// the first near-tie.
// Before flash attention it was no different in kind: on eight other prompts
// its ids left the CPU's within 200 tokens in 6 (now in 2); these two had
// happened to agree to the end. The floors catch regressions; the top logits
// after the prompt agree within 0.12.
func TestStories260KQ8_0FollowsLlamaCpp(t *testing.T) {
	cpuIDs := map[string][]int32{}
	for _, b := range testBackends() {
		t.Run(b, func(t *testing.T) {
			m, err := Load(testdata.Path(t, "models/stories260K-q8_0.gguf"), Options{Backend: b})
			require.NoError(t, err)
			defer m.Close()
			for _, c := range []struct {
				name    string
				floor   map[string]int // ids agreeing with llama.cpp, per backend
				withCPU int            // ids agreeing with the CPU backend's
			}{
				{"once-upon-a-time", map[string]int{"cpu": 252, "vulkan": 201}, 201},
				{"lily-and-tom", map[string]int{"cpu": 252, "vulkan": 40}, 40},
			} {
				t.Run(c.name, func(t *testing.T) {
					want := readExpected(t, "llamacpp-q8_0-"+c.name+".txt")
					res := generateGreedy(t, m, want.Prompt, len(want.GeneratedIDs))
					require.Equal(t, want.PromptIDs, res.PromptIDs)
					agree := commonPrefix(want.GeneratedIDs, res.GeneratedIDs)
					t.Logf("%s on %s: %d of %d generated ids agree with llama.cpp", c.name, b, agree, len(want.GeneratedIDs))
					require.GreaterOrEqual(t, agree, c.floor[b])
					for i, w := range want.Top10[:3] {
						require.Equal(t, w.ID, res.TopLogits[i].ID, "top-10 rank %d", i)
						require.InDelta(t, w.Logit, res.TopLogits[i].Logit, 0.12, "top-10 rank %d", i)
					}
					if b == "cpu" {
						cpuIDs[c.name] = res.GeneratedIDs
					} else if ids, ok := cpuIDs[c.name]; ok {
						same := commonPrefix(ids, res.GeneratedIDs)
						t.Logf("%s on %s: %d of %d generated ids agree with the CPU's", c.name, b, same, len(ids))
						require.GreaterOrEqual(t, same, c.withCPU, "%s differs from the CPU backend early", b)
					}
				})
			}
		})
	}
}
