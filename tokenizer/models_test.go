package tokenizer

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// llamaCppRun is an expected-output file of shared/models/expected.
type llamaCppRun struct {
	prompt       string
	promptIDs    []int32 // BOS first
	generatedIDs []int32
	textUntilBOS string
}

func readLlamaCppRun(t *testing.T, name string) llamaCppRun {
	t.Helper()
	data, err := os.ReadFile(testdata.Path(t, "models/expected/llamacpp-"+name+".txt"))
	require.NoError(t, err)
	ids := func(s string) []int32 {
		var out []int32
		for _, f := range strings.Fields(s) {
			id, err := strconv.ParseInt(f, 10, 32)
			require.NoError(t, err)
			out = append(out, int32(id))
		}
		return out
	}
	var r llamaCppRun
	for _, line := range strings.Split(string(data), "\n") {
		key, value, _ := strings.Cut(line, ": ")
		switch {
		case key == "prompt":
			require.NoError(t, json.Unmarshal([]byte(value), &r.prompt))
		case key == "prompt_ids":
			r.promptIDs = ids(value)
		case strings.HasPrefix(key, "generated_ids"):
			r.generatedIDs = ids(value)
		case key == "text_until_bos":
			require.NoError(t, json.Unmarshal([]byte(value), &r.textUntilBOS))
		}
	}
	require.NotEmpty(t, r.promptIDs)
	require.NotEmpty(t, r.generatedIDs)
	return r
}

func TestStoriesPromptsMatchLlamaCpp(t *testing.T) {
	tok := loadGGUF(t, "models/stories260K.gguf")
	require.Equal(t, 512, tok.VocabSize())
	for _, c := range []struct {
		name, prompt string
		ids          []int32
	}{
		{"once-upon-a-time", "Once upon a time", []int32{1, 403, 407, 261, 378}},
		{"lily-and-tom", "Lily and Tom", []int32{1, 317, 269, 274, 287}},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := readLlamaCppRun(t, c.name)
			require.Equal(t, c.prompt, run.prompt)
			require.Equal(t, c.ids, run.promptIDs)
			require.Equal(t, c.ids, tok.Encode(c.prompt, true, false))
		})
	}
}

// The stories models end a story with BOS. The prompt (without its BOS) and
// the generation up to that BOS decode to llama.cpp's text, which starts
// without the first token's prefix space, as llama.cpp and llama2.c print it.
func TestStoriesGenerationDecodesToLlamaCppText(t *testing.T) {
	tok := loadGGUF(t, "models/stories260K.gguf")
	for _, name := range []string{"once-upon-a-time", "lily-and-tom"} {
		t.Run(name, func(t *testing.T) {
			run := readLlamaCppRun(t, name)
			ids := append([]int32{}, run.promptIDs[1:]...)
			for _, id := range run.generatedIDs {
				if id == tok.BOS() {
					break
				}
				ids = append(ids, id)
			}
			require.Equal(t, run.textUntilBOS, tok.Decode(ids))
			require.Equal(t, run.textUntilBOS, tok.Decode(append([]int32{tok.BOS()}, ids...)), "with the prompt's BOS")

			d := tok.NewStreamDecoder()
			var streamed strings.Builder
			for _, id := range ids {
				streamed.WriteString(d.Add(id))
			}
			streamed.WriteString(d.Flush())
			require.Equal(t, run.textUntilBOS, streamed.String())
		})
	}
}
