package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

func conveyor(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRunJSON(t *testing.T) {
	model := testdata.Path(t, "models/stories260K.gguf")
	code, out, errOut := conveyor("run", "-m", model, "-p", "Once upon a time", "-n", "8", "--temp", "0", "--backend", "cpu", "--json", "--top-logits", "3")
	require.Equal(t, 0, code, errOut)
	var res struct {
		PromptIDs    []int32      `json:"prompt_ids"`
		GeneratedIDs []int32      `json:"generated_ids"`
		Text         string       `json:"text"`
		TopLogits    [][2]float64 `json:"top_logits"`
		Stats        map[string]float64
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.Equal(t, []int32{1, 403, 407, 261, 378}, res.PromptIDs)
	require.Equal(t, []int32{432, 383, 286, 261, 376, 298, 315, 421}, res.GeneratedIDs)
	require.Equal(t, ", there was a little girl", res.Text)
	require.Len(t, res.TopLogits, 3)
	require.Equal(t, 432.0, res.TopLogits[0][0])
	for _, key := range []string{"prompt_tokens", "generated_tokens", "load_s", "ttft_s", "prefill_tok_s", "decode_tok_s"} {
		require.Contains(t, res.Stats, key)
	}
	require.Equal(t, 1, bytes.Count([]byte(out), []byte("\n")), "one line")
}

func TestRunStreamsTextAndStats(t *testing.T) {
	model := testdata.Path(t, "models/stories260K.gguf")
	code, out, errOut := conveyor("run", "-m", model, "-p", "Once upon a time", "-n", "8", "--temp", "0", "--backend", "cpu")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "Once upon a time, there was a little girl\n", out)
	require.Contains(t, errOut, "generated 8 tokens")
}

func TestCommandLineErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.gguf")
	require.NoError(t, os.WriteFile(bad, []byte("GGUF\x03\x00\x00\x00\xff"), 0o644))
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{}, 2, "usage: conveyor COMMAND"},
		{[]string{"fly"}, 2, `unknown command "fly"`},
		{[]string{"run", "-m", bad, "--temp", "-1"}, 2, "--temp"},
		{[]string{"run", "-m", bad, "--backend", "cpu"}, 1, "gguf: " + bad},
		{[]string{"run", "-m", "/no/such.gguf"}, 1, "no such file"},
		{[]string{"info", bad}, 1, "gguf: " + bad},
		{[]string{"synth", "--dim", "64"}, 2, "no output"},
		{[]string{"tokenize", "-m", bad}, 2, "give the text"},
	} {
		code, _, errOut := conveyor(tc.args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, errOut)
		require.Contains(t, errOut, tc.want, "%v", tc.args)
	}
}

func TestInfoTokenizeSynth(t *testing.T) {
	model := testdata.Path(t, "models/stories260K-q8_0.gguf")
	code, out, _ := conveyor("info", model)
	require.Equal(t, 0, code)
	require.Contains(t, out, "architecture: llama (supported)")
	require.Contains(t, out, "blk.0.ffn_down.weight")

	code, out, _ = conveyor("tokenize", "-m", model, "Lily and Tom")
	require.Equal(t, 0, code)
	require.Equal(t, "1 317 269 274 287\n", out)
	code, out, _ = conveyor("tokenize", "--no-bos", "--json", "-m", model, "Lily and Tom")
	require.Equal(t, 0, code)
	require.Equal(t, `{"ids":[317,269,274,287],"pieces":["▁Lily","▁and","▁T","om"]}`+"\n", out)

	synth := filepath.Join(t.TempDir(), "s.gguf")
	code, _, errOut := conveyor("synth", "--dim", "64", "--layers", "1", "--heads", "4", "--kv-heads", "2", "--ffn", "96",
		"--vocab-from", testdata.Path(t, "models/stories260K.gguf"), "--type", "q4_0", "-o", synth)
	require.Equal(t, 0, code, errOut)
	code, out, errOut = conveyor("run", "-m", synth, "-p", "Once", "-n", "4", "--temp", "0", "--backend", "cpu", "--json")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `"generated_tokens":4`)
}

// With -d the JSON says the depth and the text labels the tests as
// llama-bench does.
func TestBenchDepth(t *testing.T) {
	model := testdata.Path(t, "models/stories260K.gguf")
	code, out, errOut := conveyor("bench", "-m", model, "-p", "16", "-n", "4", "-d", "64", "-r", "1", "--backend", "cpu", "--json")
	require.Equal(t, 0, code, errOut)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.Equal(t, 64.0, res["depth"])
	require.Greater(t, res["pp16_tok_s"], 0.0)
	require.Greater(t, res["tg4_tok_s"], 0.0)
	code, out, errOut = conveyor("bench", "-m", model, "-p", "16", "-n", "4", "-d", "64", "-r", "1", "--backend", "cpu")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "pp16 @ d64")
	require.Contains(t, out, "tg4 @ d64")
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	code, _, errOut = conveyor("bench", "-m", model, "-p", "8", "-n", "2", "-d", "32", "-r", "1", "--backend", "cpu", "--cpuprofile", prof)
	require.Equal(t, 0, code, errOut)
	info, err := os.Stat(prof)
	require.NoError(t, err)
	require.Positive(t, info.Size(), "the profile of the measured runs")
}

func TestBenchJSON(t *testing.T) {
	model := testdata.Path(t, "models/stories260K.gguf")
	code, out, errOut := conveyor("bench", "-m", model, "-p", "16", "-n", "4", "-r", "1", "--backend", "cpu", "--json")
	require.Equal(t, 0, code, errOut)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	for _, key := range []string{"pp16_tok_s", "tg4_tok_s", "load_s", "peak_rss_mb",
		"weights_mb_per_token", "decode_weights_gb_s", "mem_read_gb_s", "decode_bw_fraction"} {
		require.Greater(t, res[key], 0.0, key)
	}
	// A token reads every tensor of stories260K but one row of its
	// embedding (512 x 64 float32).
	require.InDelta(t, (1.17e6-512*64*4)/(1<<20), res["weights_mb_per_token"], 0.01)
}

func TestRunRejectsBadNumbers(t *testing.T) {
	model := testdata.Path(t, "models/stories260K.gguf")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--temp", "NaN"}, "--temp"},
		{[]string{"--temp", "Inf"}, "--temp"},
		{[]string{"--temp", "-0.1"}, "--temp"},
		{[]string{"--top-p", "NaN"}, "--top-p"},
		{[]string{"--min-p", "NaN"}, "--min-p"},
		{[]string{"--min-p", "-1"}, "--min-p"},
		{[]string{"--top-k", "-3"}, "--top-k"},
		{[]string{"--repeat-penalty", "NaN"}, "--repeat-penalty"},
		{[]string{"--repeat-penalty", "+Inf"}, "--repeat-penalty"},
		{[]string{"--repeat-last-n", "-2"}, "--repeat-last-n"},
		{[]string{"-n", "-5"}, "-n must be -1"},
		{[]string{"-n", "-2"}, "-n must be -1"},
		{[]string{"--top-logits", "-1"}, "--top-logits"},
	} {
		args := append([]string{"run", "-m", model, "-p", "Hi", "--backend", "cpu"}, tc.args...)
		code, out, errOut := conveyor(args...)
		require.Equal(t, 2, code, "%v: %s", tc.args, errOut)
		require.Contains(t, errOut, tc.want, "%v", tc.args)
		require.Empty(t, out)
	}
	for _, args := range [][]string{{"chat", "-m", model, "--temp", "NaN"}} {
		code, _, errOut := conveyor(args...)
		require.Equal(t, 2, code, "%v: %s", args, errOut)
		require.Contains(t, errOut, "--temp")
	}
}

func TestRunZeroTokens(t *testing.T) {
	model := testdata.Path(t, "models/stories260K.gguf")
	code, out, errOut := conveyor("run", "-m", model, "-p", "Once upon a time", "-n", "0", "--backend", "cpu", "--json", "--top-logits", "2")
	require.Equal(t, 0, code, errOut)
	var res struct {
		GeneratedIDs []int32      `json:"generated_ids"`
		StopReason   string       `json:"stop_reason"`
		TopLogits    [][2]float64 `json:"top_logits"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.Empty(t, res.GeneratedIDs)
	require.Equal(t, "length", res.StopReason)
	require.Len(t, res.TopLogits, 2)

	code, out, errOut = conveyor("run", "-m", model, "-p", "Once upon a time", "-n", "0", "--backend", "cpu")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "Once upon a time\n", out)
	require.Contains(t, errOut, "generated 0 tokens")
}

// TestHugeContextIsAClearError: the fit check (engine/fit.go) answers before
// anything is allocated, with the numbers.
func TestHugeContextIsAClearError(t *testing.T) {
	model := testdata.Path(t, "models/stories260K.gguf")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "-m", model, "-p", "Hi", "-n", "5", "-c", "1099511627776"}, "will not fit: it needs 640.0 TiB"},
		{[]string{"run", "-m", model, "-p", "Hi", "-n", "5", "-c", "2000000000"}, "1 sequence x 2000000000 positions"},
		{[]string{"serve", "-m", model, "-c", "1099511627776", "--port", "0"}, "will not fit"},
		{[]string{"serve", "-m", model, "-c", "100000000000", "--parallel", "100000", "--port", "0"}, "100000 sequences x 1000000 positions"},
		{[]string{"serve", "-m", model, "-c", "2000000000", "--parallel", "2", "--port", "0"}, "2 sequences x 1000000000 positions"},
		{[]string{"serve", "-m", model, "-c", "64", "--queue", "1099511627776", "--port", "0"}, "requests is over the limit"},
		{[]string{"run", "-m", model, "-p", "Hi", "-t", "1099511627776"}, "CPU threads"},
	} {
		code, _, errOut := conveyor(append(tc.args, "--backend", "cpu")...)
		require.Equal(t, 1, code, "%v: %s", tc.args, errOut)
		require.Contains(t, errOut, tc.want, "%v", tc.args)
	}
}
