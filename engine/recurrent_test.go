package engine

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
	"github.com/conveyor-llm/conveyor/model"
)

// hybridArch names the hybrid linear-attention models of ../shared/arch.
var hybridArch = map[string]bool{"qwen35": true, "qwen3next": true, "qwen35moe": true}

// The hybrid models on prompts of our own: testdata/hybrid/*.json are
// llama.cpp's outputs (the oracle of ../shared/oracle, which puts BOS
// first), checked as TestArchitecturesMatchLlamaCpp checks the recorded one,
// on every backend.
func TestHybridMorePrompts(t *testing.T) {
	files, err := filepath.Glob("testdata/hybrid/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		for _, b := range testBackends() {
			t.Run(b+"/"+filepath.Base(file), func(t *testing.T) { testHybridPrompt(t, b, file) })
		}
	}
}

func testHybridPrompt(t *testing.T, backendName, file string) {
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	var want struct {
		archCase
		Model string `json:"model"`
	}
	require.NoError(t, json.Unmarshal(raw, &want))
	m, err := Load(testdata.Path(t, "arch/"+want.Model), Options{Backend: backendName, Threads: 2})
	require.NoError(t, err)
	defer m.Close()
	ids := want.PromptIDs
	if ids[0] == m.Tokenizer().BOS() { // the oracle's BOS; these vocabularies add none
		ids = ids[1:]
	}
	require.Equal(t, ids, m.Tokenizer().Encode(want.Prompt, true, true), "prompt ids")

	s, err := m.NewSession(SessionOptions{Context: 80})
	require.NoError(t, err)
	defer s.Close()
	logits, err := s.prefill(want.PromptIDs, 0)
	require.NoError(t, err)
	steps := append([][][2]float64{want.Top}, want.TopEvery...)
	worst := 0.0
	for i, top := range steps {
		for _, pair := range top {
			d := math.Abs(float64(logits[int(pair[0])]) - pair[1])
			worst = math.Max(worst, d)
			require.LessOrEqual(t, d, 3e-2, "step %d: logit of %d is %g, llama.cpp %g", i, int(pair[0]), logits[int(pair[0])], pair[1])
		}
		if top[0][1]-top[1][1] >= 0.05 {
			require.Equal(t, want.GeneratedIDs[i], argmax(logits), "step %d", i)
		}
		if i == len(steps)-1 {
			break
		}
		out, err := s.Forward(singleToken(want.GeneratedIDs[i], len(want.PromptIDs)+i))
		require.NoError(t, err)
		logits = out[0]
	}
	t.Logf("%s %q on %s: largest logit difference from llama.cpp %.4f over %d steps", want.Model, want.Prompt, backendName, worst, len(steps))
}

// The recurrent state is batch invariant: a sequence's logits are the same
// bit for bit alone, beside other sequences, and prefilled in chunks.
func TestHybridBatchInvariance(t *testing.T) {
	for _, b := range testBackends() {
		for name := range hybridArch {
			t.Run(b+"/"+name, func(t *testing.T) { checkBatchInvariance(t, b, testdata.Path(t, "arch/"+name+".gguf")) })
		}
	}
}

// Prefix reuse with a recurrent state: a prompt that extends the whole
// cached history continues from its state; any other prompt is recomputed
// from position 0. Either way the results equal a fresh session's.
func TestHybridPrefixReuse(t *testing.T) {
	m, err := Load(testdata.Path(t, "arch/qwen35.gguf"), Options{Backend: "cpu", Threads: 2})
	require.NoError(t, err)
	defer m.Close()
	gen := func(s *Session, prompt []int32) *Result {
		res, err := s.Generate(context.Background(), Request{PromptIDs: prompt, MaxTokens: 8, Sampling: DefaultSampling(), TopLogits: 5}, nil)
		require.NoError(t, err)
		return res
	}
	fresh := func(prompt []int32) *Result {
		s, err := m.NewSession(SessionOptions{Context: 96})
		require.NoError(t, err)
		defer s.Close()
		return gen(s, prompt)
	}
	s, err := m.NewSession(SessionOptions{Context: 96})
	require.NoError(t, err)
	defer s.Close()

	tok := m.Tokenizer()
	first := gen(s, tok.Encode("Once upon a time", true, true))
	// The history is the prompt and the generated tokens but the last
	// (sampled, never fed): a prompt of that history and more extends it.
	history := append(append([]int32(nil), first.PromptIDs...), first.GeneratedIDs[:len(first.GeneratedIDs)-1]...)
	ext := append(append([]int32(nil), history...), tok.Encode(" there was", true, true)...)
	second := gen(s, ext)
	require.Equal(t, len(history), second.Stats.ReusedTokens, "extending the whole history reuses its state")
	want := fresh(ext)
	require.Equal(t, want.GeneratedIDs, second.GeneratedIDs)
	require.Equal(t, want.TopLogits, second.TopLogits)

	// A prompt sharing only part of the history: recomputed whole.
	other := tok.Encode("Once upon a mountain", true, true)
	third := gen(s, other)
	require.Equal(t, 0, third.Stats.ReusedTokens)
	want = fresh(other)
	require.Equal(t, want.GeneratedIDs, third.GeneratedIDs)
	require.Equal(t, want.TopLogits, third.TopLogits)
}

// The scheduler runs hybrid sequences side by side, each as it runs alone;
// a slot's state is not reused (every prompt is computed from position 0).
func TestHybridScheduler(t *testing.T) {
	m, err := Load(testdata.Path(t, "arch/qwen3next.gguf"), Options{Backend: "cpu", Threads: 2})
	require.NoError(t, err)
	defer m.Close()
	prompts := []string{"Once upon a time", "The quick brown fox", "She said hello", "Once upon a time there"}
	want := map[string]*Result{}
	for _, p := range prompts {
		s, err := m.NewSession(SessionOptions{Context: 64})
		require.NoError(t, err)
		res, err := s.Generate(context.Background(), Request{Prompt: p, MaxTokens: 10, Sampling: DefaultSampling(), IgnoreEOS: true}, nil)
		require.NoError(t, err)
		s.Close()
		want[p] = res
	}
	sched := startScheduler(t, m, SchedulerOptions{Parallel: 3, Context: 64, BatchSize: 8})
	for round := 0; round < 2; round++ { // the second round meets the first's slots
		results := make([]*Result, len(prompts))
		errs := make(chan error, len(prompts))
		for i, p := range prompts {
			go func() {
				var err error
				results[i], err = sched.Submit(context.Background(), Request{Prompt: p, MaxTokens: 10, Sampling: DefaultSampling(), IgnoreEOS: true}, nil)
				errs <- err
			}()
		}
		for range prompts {
			require.NoError(t, <-errs)
		}
		for i, p := range prompts {
			require.Equal(t, want[p].GeneratedIDs, results[i].GeneratedIDs, "round %d, %q", round, p)
			require.Zero(t, results[i].Stats.ReusedTokens)
		}
	}
}

// A context shift recomputes a hybrid model's whole shifted history from
// position 0: the result is a fresh session's on the shifted tokens.
func TestHybridContextShift(t *testing.T) {
	m, err := Load(testdata.Path(t, "arch/qwen35.gguf"), Options{Backend: "cpu", Threads: 2})
	require.NoError(t, err)
	defer m.Close()
	const ctxLen, keep = 24, 2
	s, err := m.NewSession(SessionOptions{Context: ctxLen, ContextShift: true, Keep: keep})
	require.NoError(t, err)
	defer s.Close()
	res, _ := generate(t, s, Request{Prompt: "Once upon a time", MaxTokens: 30, Sampling: DefaultSampling(), IgnoreEOS: true})
	require.GreaterOrEqual(t, res.Stats.ContextShifts, 1)

	p, gen := res.PromptIDs, res.GeneratedIDs
	k := ctxLen - len(p)
	full := append(append([]int32{}, p...), gen[:k]...)
	discard := (ctxLen - keep) / 2
	shifted := append(append(append([]int32{}, full[:keep]...), full[keep+discard:]...), gen[k])
	fresh, err := m.NewSession(SessionOptions{Context: ctxLen})
	require.NoError(t, err)
	defer fresh.Close()
	want, _ := generate(t, fresh, Request{PromptIDs: shifted, MaxTokens: 3, Sampling: DefaultSampling(), IgnoreEOS: true})
	require.Equal(t, want.GeneratedIDs, gen[k+1:k+4])
}

// Decoding a hybrid model's token allocates nothing once the session is
// warm, as for the other models (TestDecodeAllocatesNothing).
func TestHybridDecodeAllocatesNothing(t *testing.T) {
	m, err := Load(testdata.Path(t, "arch/qwen35.gguf"), Options{Backend: "cpu", Threads: 2})
	require.NoError(t, err)
	defer m.Close()
	s, err := m.NewSession(SessionOptions{Context: 256, BatchSize: 8})
	require.NoError(t, err)
	defer s.Close()
	pos := []int32{0}
	batch := model.Batch{Tokens: []int32{9}, Pos: pos, Seq: []int32{0}, Outputs: []int32{0}}
	for ; pos[0] < 140; pos[0]++ {
		_, err := s.Forward(batch)
		require.NoError(t, err)
	}
	var err2 error
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := s.Forward(batch); err != nil {
			err2 = err
		}
		pos[0]++
	})
	require.NoError(t, err2)
	require.Zero(t, allocs, "allocations per decoded token")
}
