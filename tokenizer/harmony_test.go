package tokenizer

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// gpt-oss's vocabulary: the gpt-4o pre-tokenizer gives llama.cpp's prompt
// ids, the Harmony tokens render as llama.cpp renders them (the recorded
// text), and <|return|> and <|call|> end generation, <|end|> does not.
func TestGPTOSSVocabularyMatchesLlamaCpp(t *testing.T) {
	f, err := gguf.Open(testdata.Path(t, "arch/gpt-oss.gguf"))
	require.NoError(t, err)
	defer f.Close()
	tok, err := FromGGUF(f)
	require.NoError(t, err)

	raw, err := os.ReadFile(testdata.Path(t, "arch/expected/gpt-oss.once-upon-a-time.json"))
	require.NoError(t, err)
	var want struct {
		Prompt       string  `json:"prompt"`
		PromptIDs    []int32 `json:"prompt_ids"`
		GeneratedIDs []int32 `json:"generated_ids"`
		Text         string  `json:"text"`
	}
	require.NoError(t, json.Unmarshal(raw, &want))
	require.Equal(t, want.PromptIDs, tok.Encode(want.Prompt, true, true))
	// The recorded text replaces invalid UTF-8 (pieces of split characters)
	// with U+FFFD: compare without it.
	text := tok.Decode(append(want.PromptIDs, want.GeneratedIDs...))
	require.Equal(t, strings.ReplaceAll(want.Text, "\uFFFD", ""), strings.ToValidUTF8(text, ""))
	require.Contains(t, text, "<|constrain|>")
	require.Contains(t, text, "<|end|>")

	require.True(t, tok.IsEOG(508), "<|return|>")
	require.True(t, tok.IsEOG(514), "<|call|>")
	require.False(t, tok.IsEOG(512), "<|end|>")
	// User-defined now: split out of prompt text even without parseSpecial.
	require.Equal(t, []int32{511}, tok.Encode("<|start|>", false, false))
}
