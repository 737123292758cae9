package tokenizer

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// loadGGUF builds the tokenizer of a GGUF file in the shared folder.
func loadGGUF(t testing.TB, rel string) *Tokenizer {
	t.Helper()
	f, err := gguf.Open(testdata.Path(t, rel))
	require.NoError(t, err)
	defer f.Close()
	tok, err := FromGGUF(f)
	require.NoError(t, err)
	return tok
}

// vectorCase is one test string of llama.cpp's .inp/.out files.
type vectorCase struct {
	text string
	ids  []int32
}

// readVectors reads NAME.inp and NAME.out (format: shared/tokenizer-tests/README.md).
func readVectors(t testing.TB, rel string) []vectorCase {
	t.Helper()
	inp, err := os.ReadFile(testdata.Path(t, rel+".inp"))
	require.NoError(t, err)
	out, err := os.ReadFile(testdata.Path(t, rel+".out"))
	require.NoError(t, err)
	texts := strings.Split(string(inp), "\n__ggml_vocab_test__\n")
	require.Equal(t, "", texts[len(texts)-1], "the .inp file ends with a separator")
	texts = texts[:len(texts)-1]
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	require.Len(t, lines, len(texts), "one .out line per .inp string")
	cases := make([]vectorCase, len(texts))
	for i, text := range texts {
		cases[i].text = text
		cases[i].ids = []int32{}
		for _, f := range strings.Fields(lines[i]) {
			id, err := strconv.ParseInt(f, 10, 32)
			require.NoError(t, err)
			cases[i].ids = append(cases[i].ids, int32(id))
		}
	}
	return cases
}

func TestEncodeMatchesLlamaCppVectors(t *testing.T) {
	tok := loadGGUF(t, "tokenizer-tests/llamacpp/ggml-vocab-llama-spm.gguf")
	// Phi-3 uses the Llama 2 vocabulary (plus added tokens the vectors do not touch).
	for _, name := range []string{"ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf"} {
		t.Run(name, func(t *testing.T) {
			cases := readVectors(t, "tokenizer-tests/llamacpp/"+name)
			require.Len(t, cases, 46)
			for i, c := range cases {
				got := tok.Encode(c.text, false, false)
				if got == nil {
					got = []int32{}
				}
				require.Equal(t, c.ids, got, "case %d %q", i, c.text)
			}
		})
	}
}

// vectorVocabs are llama.cpp's vocab files with test vectors. The qwen2,
// command-r and deepseek-llm vectors are left out: their vocab files are not
// available (shared/tokenizer-tests/README.md).
var vectorVocabs = []string{"bert-bge", "deepseek-coder", "falcon", "gpt-2", "mpt", "refact", "starcoder", "llama-bpe"}

func TestEncodeMatchesLlamaCppVectorsBPEAndWordPiece(t *testing.T) {
	for _, name := range vectorVocabs {
		t.Run(name, func(t *testing.T) {
			rel := "tokenizer-tests/llamacpp/ggml-vocab-" + name + ".gguf"
			tok := loadGGUF(t, rel)
			cases := readVectors(t, rel)
			require.Len(t, cases, 46)
			for i, c := range cases {
				got := tok.Encode(c.text, false, false)
				if got == nil {
					got = []int32{}
				}
				assert.Equal(t, c.ids, got, "case %d %q\nwant %q\ngot  %q", i, c.text, texts(tok, c.ids), texts(tok, got))
			}
		})
	}
}

func TestDecodeRoundTripsVectors(t *testing.T) {
	tok := loadGGUF(t, "tokenizer-tests/llamacpp/ggml-vocab-llama-spm.gguf")
	for i, c := range readVectors(t, "tokenizer-tests/llamacpp/ggml-vocab-llama-spm.gguf") {
		require.Equal(t, c.text, tok.Decode(c.ids), "case %d: decode of the expected ids", i)
		require.Equal(t, c.text, tok.Decode(tok.Encode(c.text, false, false)), "case %d", i)
		require.Equal(t, c.text, tok.Decode(tok.Encode(c.text, true, false)), "case %d with BOS", i)
	}
}

func TestEncodeExamplesFromReadme(t *testing.T) {
	tok := loadGGUF(t, "tokenizer-tests/llamacpp/ggml-vocab-llama-spm.gguf")
	for _, c := range []struct {
		text string
		ids  []int32
	}{
		{"Hello world", []int32{15043, 3186}},
		{" Hello world", []int32{29871, 15043, 3186}},
		{"\n", []int32{29871, 13}},
	} {
		require.Equal(t, c.ids, tok.Encode(c.text, false, false), "%q", c.text)
	}
	require.Equal(t, []int32{1, 15043, 2}, tok.Encode("<s>Hello</s>", false, true))
	require.Equal(t, []int32{1, 529, 29879, 29958, 10994}, tok.Encode("<s>Hello", true, false)[:5])
}

// gpt-neox's file has mpt's tokens and merges but no tokenizer.ggml.pre, so it
// gets llama.cpp's fallback pre-tokenizer ("default"), with which llama.cpp
// matches 33 of mpt's 46 vectors (the README of the test data); so do we (and
// we checked that all 46 tokenizations equal llama.cpp's, with its oracle).
func TestNoPreKeyUsesLlamaCppFallback(t *testing.T) {
	tok := loadGGUF(t, "tokenizer-tests/llamacpp/ggml-vocab-gpt-neox.gguf")
	require.Equal(t, "", tok.Vocab().Pre)
	same := 0
	for _, c := range readVectors(t, "tokenizer-tests/llamacpp/ggml-vocab-mpt.gguf") {
		got := tok.Encode(c.text, false, false)
		if len(got) == len(c.ids) && (len(got) == 0 || assert.ObjectsAreEqual(c.ids, got)) {
			same++
		}
	}
	require.Equal(t, 33, same)
}
