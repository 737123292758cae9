package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

func runJSONOut(t *testing.T, args ...string) map[string]any {
	t.Helper()
	code, out, errOut := conveyor(args...)
	require.Equal(t, 0, code, "%v: %s", args, errOut)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	return res
}

// llama.cpp's spellings of the flags mean what they mean there, and flags may
// follow positional arguments.
func TestLlamaCppFlagAliases(t *testing.T) {
	model := testdata.Path(t, "models/stories260K.gguf")
	prompt := filepath.Join(t.TempDir(), "prompt.txt")
	require.NoError(t, os.WriteFile(prompt, []byte("Once upon a time"), 0o600))

	want := runJSONOut(t, "run", "-m", model, "-p", "Once upon a time", "-n", "6", "--temp", "0.9", "--seed", "7",
		"-c", "128", "-b", "32", "-t", "1", "--backend", "cpu", "--json")
	got := runJSONOut(t, "run", "-m", model, "-f", prompt, "--n-predict", "6", "--temp", "0.9", "-s", "7",
		"--ctx-size", "128", "--batch-size", "32", "--threads", "1", "-ngl", "99", "-fa", "on", "-ctk", "f16", "-ctv", "f16",
		"--backend", "cpu", "--json")
	require.Equal(t, want["generated_ids"], got["generated_ids"])
	require.Equal(t, want["prompt_ids"], got["prompt_ids"])

	// -ctk/-ctv q8_0 and q4_0 (and --cache-type) quantize the cache, the
	// keys and values alike or apart as in llama.cpp: the same prompt, a
	// generation of the asked length.
	for _, args := range [][]string{{"-ctk", "q8_0", "-ctv", "q8_0"}, {"--cache-type-k", "q4_0"}, {"--cache-type", "q8_0"},
		{"-ctk", "q8_0", "-ctv", "f16"}, {"-ctk", "f16", "-ctv", "f32"}, {"--cache-type", "q4_0", "-ctv", "q8_0"}} {
		out := runJSONOut(t, append([]string{"run", "-m", model, "-p", "Once upon a time", "-n", "6", "--temp", "0",
			"--backend", "cpu", "--json"}, args...)...)
		require.Equal(t, want["prompt_ids"], out["prompt_ids"], "%v", args)
		require.Len(t, out["generated_ids"], 6, "%v", args)
	}

	// -ngl 0 runs on the CPU; -ngl -1 is all layers.
	runJSONOut(t, "run", "-m", model, "-p", "Hi", "-n", "1", "-ngl", "0", "--json")
	runJSONOut(t, "run", "-m", model, "-p", "Hi", "-n", "1", "-ngl", "-1", "--backend", "cpu", "--json")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-ctk", "q5_1"}, "q5_1 is not supported yet"},
		{[]string{"-ctv", "iq4_nl"}, "iq4_nl is not supported yet"},
		{[]string{"--cache-type", "q9_0"}, "unknown"},
		{[]string{"-ctk", "f16", "-ctv", "q4_1"}, "q4_1 is not supported yet"},
		{[]string{"-fa", "maybe"}, "-fa must be on, off or auto"},
		{[]string{"-ngl", "-2"}, "-ngl must be -1"},
		{[]string{"-ngl", "0", "--backend", "vulkan"}, "contradicts --backend vulkan"},
		{[]string{"-f", filepath.Join(t.TempDir(), "missing.txt")}, "-f:"},
		{[]string{"-f", prompt, "-p", "Hi"}, "-p or -f, not both"},
	} {
		args := append([]string{"run", "-m", model, "-n", "1"}, tc.args...)
		code, _, errOut := conveyor(args...)
		require.Equal(t, 2, code, "%v: %s", tc.args, errOut)
		require.Contains(t, errOut, tc.want, "%v", tc.args)
	}
}

// -ngl is a no-op on the CPU; on Vulkan, -ngl 2 splits stories260K (2 of
// its 5 layers on the device) and prints the CPU's greedy story.
func TestGPULayers(t *testing.T) {
	model := testdata.Path(t, "models/stories260K.gguf")
	cpu := runJSONOut(t, "run", "-m", model, "-p", "Once upon a time", "-n", "16", "--temp", "0", "-ngl", "1", "--backend", "cpu", "--json")
	code, out, errOut := conveyor("run", "-m", model, "-p", "Once upon a time", "-n", "16", "--temp", "0", "-ngl", "2", "--backend", "vulkan", "--json")
	if code != 0 && strings.Contains(errOut, "vulkan") && !strings.Contains(errOut, "offload") {
		t.Skipf("no Vulkan device: %s", errOut)
	}
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "offload: layers 3-4 of 5 on vulkan")
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.NotEmpty(t, cpu["text"])
	require.Equal(t, cpu["text"], res["text"])
}

func TestFlagsAfterPositionalArguments(t *testing.T) {
	model := testdata.Path(t, "models/stories260K.gguf")
	code, out, errOut := conveyor("tokenize", "-m", model, "Once upon a time")
	require.Equal(t, 0, code, errOut)
	code2, out2, errOut := conveyor("tokenize", "Once upon a time", "-m", model)
	require.Equal(t, 0, code2, errOut)
	require.Equal(t, out, out2)
	code, out2, errOut = conveyor("info", model, "--backend", "cpu")
	if code == 2 && strings.Contains(errOut, "flag provided but not defined") {
		code, out2, errOut = conveyor("info", model)
	}
	require.Equal(t, 0, code, errOut)
	require.NotEmpty(t, out2)
	// "--" ends the flags.
	code, _, errOut = conveyor("run", "-m", model, "-n", "1", "--", "-p")
	require.Equal(t, 2, code, errOut)
	require.Contains(t, errOut, `unexpected argument "-p"`)
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}, {"run", "--version"}, {"serve", "--version"}, {"info", "--version"}} {
		code, out, errOut := conveyor(args...)
		require.Equal(t, 0, code, "%v: %s", args, errOut)
		require.True(t, strings.HasPrefix(out, "conveyor "), "%v: %q", args, out)
	}
}
