package engine

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
	"github.com/conveyor-llm/conveyor/model"
)

// archCase is one of ../shared/arch/expected/*.json: llama.cpp's outputs.
type archCase struct {
	Prompt       string         `json:"prompt"`
	PromptIDs    []int32        `json:"prompt_ids"`
	GeneratedIDs []int32        `json:"generated_ids"`
	Top          [][2]float64   `json:"top_after_prompt"`
	TopEvery     [][][2]float64 `json:"top_every_step"`
	Margins      []float64      `json:"margins"`
}

var archNames = []string{"llama3", "qwen2", "qwen3", "gemma2", "gemma3", "phi3", "smollm3", "olmo2", "gpt2", "qwen3moe", "mixtral", "qwen35", "qwen3next", "qwen35moe"}

// Every architecture computes as llama.cpp does: the same prompt ids; with
// llama.cpp's ids fed back one by one (teacher forcing), the top-10 logits at
// every step within 3e-2 of its own, and the same greedy choice wherever its
// top-1 leads the top-2 by at least 0.05. (llama.cpp keeps its cache in F16
// and rounds some activations to F16: an exact float64 implementation is
// within 2.3e-2 of its logits, see ../shared/arch/README.md.)
func TestArchitecturesMatchLlamaCpp(t *testing.T) {
	for _, b := range testBackends() {
		t.Run(b, func(t *testing.T) {
			for _, name := range archNames {
				t.Run(name, func(t *testing.T) { testArchitecture(t, b, name) })
			}
		})
	}
}

func testArchitecture(t *testing.T, backendName, name string) {
	raw, err := os.ReadFile(testdata.Path(t, "arch/expected/"+name+".once-upon-a-time.json"))
	require.NoError(t, err)
	var want archCase
	require.NoError(t, json.Unmarshal(raw, &want))
	m, err := Load(testdata.Path(t, "arch/"+name+".gguf"), Options{Backend: backendName, Threads: 2})
	if hybridArch[name] && backendName != "cpu" { // see recurrent_test.go
		require.ErrorContains(t, err, "Gated DeltaNet layers are not implemented on the "+backendName+" backend")
		return
	}
	require.NoError(t, err)
	defer m.Close()

	require.Equal(t, want.PromptIDs, m.Tokenizer().Encode(want.Prompt, true, true), "prompt ids")

	s, err := m.NewSession(SessionOptions{Context: 64})
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
		if want.Margins[i] >= 0.05 {
			require.Equal(t, want.GeneratedIDs[i], argmax(logits), "step %d (margin %.3f)", i, want.Margins[i])
		}
		if i == len(steps)-1 {
			break
		}
		pos := len(want.PromptIDs) + i
		out, err := s.Forward(model.Batch{Tokens: []int32{want.GeneratedIDs[i]}, Pos: []int32{int32(pos)}, Seq: []int32{0}, Outputs: []int32{0}})
		require.NoError(t, err)
		logits = out[0]
	}
	t.Logf("%s on %s: largest logit difference from llama.cpp %.4f over %d steps", name, backendName, worst, len(steps))
}
