package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// story32 is stories260K's greedy continuation of "Once upon a time", 32
// tokens, as `conveyor run` prints it (llama2.c's run.c gives the same).
const story32 = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw\n"

// TestRunEmbeddedModel runs with no -m at all: the embedded stories260K tells
// its story, and one stderr line says which model that was. It needs no test
// data.
func TestRunEmbeddedModel(t *testing.T) {
	code, out, errOut := conveyor("run", "--temp", "0", "-n", "32", "-p", "Once upon a time", "--backend", "cpu")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, story32, out)
	require.Contains(t, errOut, "no -m given: using the embedded stories260K (1.2 MB, MIT")

	// Its name picks it too, in any case, when no file has that name.
	code, out, errOut = conveyor("run", "-m", "Stories260k", "--temp", "0", "-n", "32", "-p", "Once upon a time", "--backend", "cpu")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, story32, out)
	require.Contains(t, errOut, "-m Stories260k: using the embedded stories260K")
}

// TestRunEmbeddedMatchesFile checks that the embedded model prints exactly what
// the shared stories260K.gguf does, as text and as ids.
func TestRunEmbeddedMatchesFile(t *testing.T) {
	path := testdata.Path(t, "models/stories260K.gguf")
	for _, extra := range [][]string{nil, {"--json"}} {
		args := append([]string{"run", "--temp", "0", "-n", "32", "-p", "Once upon a time", "--backend", "cpu"}, extra...)
		code, embedded, errOut := conveyor(args...)
		require.Equal(t, 0, code, errOut)
		code, fromFile, errOut := conveyor(append(args, "-m", path)...)
		require.Equal(t, 0, code, errOut)
		require.NotContains(t, errOut, "embedded")
		if extra == nil {
			require.Equal(t, fromFile, embedded)
			continue
		}
		var a, b struct {
			GeneratedIDs []int32 `json:"generated_ids"`
			Text         string  `json:"text"`
		}
		require.NoError(t, json.Unmarshal([]byte(embedded), &a))
		require.NoError(t, json.Unmarshal([]byte(fromFile), &b))
		require.Len(t, a.GeneratedIDs, 32)
		require.Equal(t, b, a)
	}
}

// TestEmbeddedModelOtherCommands: info, tokenize and bench use the embedded
// model without -m; a file named like the model is still the file.
func TestEmbeddedModelOtherCommands(t *testing.T) {
	code, out, errOut := conveyor("info")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "architecture: llama (supported)")
	require.Contains(t, errOut, "using the embedded stories260K")

	code, out, errOut = conveyor("tokenize", "Lily and Tom")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "1 317 269 274 287\n", out)

	code, out, errOut = conveyor("bench", "-p", "8", "-n", "2", "-r", "1", "--backend", "cpu", "--json")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `"tg2_tok_s"`)

	dir := t.TempDir()
	t.Chdir(dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stories260k"), []byte("not a model"), 0o644))
	code, _, errOut = conveyor("info", "stories260k")
	require.Equal(t, 1, code, errOut)
	require.Contains(t, errOut, "gguf: stories260k")
}
