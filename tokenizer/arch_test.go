package tokenizer

import (
	"encoding/json"
	"os"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// archRun is an expected-output file of shared/arch/expected.
type archRun struct {
	Prompt       string  `json:"prompt"`
	PromptIDs    []int32 `json:"prompt_ids"`
	GeneratedIDs []int32 `json:"generated_ids"`
	Text         string  `json:"text"`
}

// The tokenizers inside the architecture kit's models give llama.cpp's prompt
// ids (BOS first where the model's add_bos_token is true), and its text for
// the prompt and generated tokens.
func TestArchModelsPromptIDs(t *testing.T) {
	for _, name := range []string{"llama3", "qwen2", "qwen3", "smollm3", "olmo2", "gpt2", "gemma2", "gemma3", "phi3"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(testdata.Path(t, "arch/expected/"+name+".once-upon-a-time.json"))
			require.NoError(t, err)
			var run archRun
			require.NoError(t, json.Unmarshal(data, &run))
			tok := loadGGUF(t, "arch/"+name+".gguf")
			require.Equal(t, run.PromptIDs, tok.Encode(run.Prompt, true, false))

			ids := run.PromptIDs
			if tok.Vocab().AddBOS {
				ids = ids[1:]
			}
			text := tok.Decode(append(append([]int32{}, ids...), run.GeneratedIDs...))
			require.Equal(t, run.Text, replaceInvalid(text))
		})
	}
}

// replaceInvalid puts U+FFFD for each maximal subpart of an ill-formed UTF-8
// sequence, as the recorded texts (and Python's "replace") do.
func replaceInvalid(s string) string {
	var out []rune
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError || n > 1 {
			out = append(out, r)
			i += n
			continue
		}
		out = append(out, utf8.RuneError)
		b := s[i]
		need, lo, hi := 0, byte(0x80), byte(0xBF)
		switch {
		case b >= 0xC2 && b <= 0xDF:
			need = 1
		case b >= 0xE0 && b <= 0xEF:
			need = 2
			if b == 0xE0 {
				lo = 0xA0
			} else if b == 0xED {
				hi = 0x9F
			}
		case b >= 0xF0 && b <= 0xF4:
			need = 3
			if b == 0xF0 {
				lo = 0x90
			} else if b == 0xF4 {
				hi = 0x8F
			}
		}
		i++
		for k := 0; k < need && i < len(s) && s[i] >= lo && s[i] <= hi; k++ {
			i++
			lo, hi = 0x80, 0xBF
		}
	}
	return string(out)
}
