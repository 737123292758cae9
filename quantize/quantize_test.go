package quantize_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/internal/testdata"
	"github.com/conveyor-llm/conveyor/quantize"
	"github.com/stretchr/testify/require"
)

// TestStories260KQ8_0MatchesLlamaCpp: quantizing the F32 stories260K to Q8_0
// gives exactly the tensors of stories260K-q8_0.gguf, made by llama.cpp: the
// same types (ffn_down, 172 wide, stays F32) and the same bytes.
func TestStories260KQ8_0MatchesLlamaCpp(t *testing.T) {
	in := testdata.Path(t, "models/stories260K.gguf")
	refPath := testdata.Path(t, "models/stories260K-q8_0.gguf")
	out := filepath.Join(t.TempDir(), "q8_0.gguf")
	var log bytes.Buffer
	require.NoError(t, quantize.File(in, out, quantize.Options{FileType: quantize.FileTypeQ8_0, Log: &log}))
	t.Log(log.String())

	got, err := gguf.Open(out)
	require.NoError(t, err)
	defer got.Close()
	ref, err := gguf.Open(refPath)
	require.NoError(t, err)
	defer ref.Close()

	require.Len(t, got.Tensors, len(ref.Tensors))
	for i, rt := range ref.Tensors {
		gt := got.Tensors[i]
		require.Equal(t, rt.Name, gt.Name)
		require.Equal(t, rt.Type, gt.Type, rt.Name)
		require.Equal(t, rt.Dims, gt.Dims, rt.Name)
		require.True(t, bytes.Equal(ref.TensorData(rt), got.TensorData(gt)), "%s: data differs", rt.Name)
	}
	ft, ok := got.Lookup("general.file_type")
	require.True(t, ok)
	n, err := ft.Uint()
	require.NoError(t, err)
	require.EqualValues(t, 7, n)
	// All other metadata is carried over unchanged, in order.
	src, err := gguf.Open(in)
	require.NoError(t, err)
	defer src.Close()
	for _, kv := range src.KVs {
		v, ok := got.Lookup(kv.Key)
		require.True(t, ok, kv.Key)
		if kv.Key != "general.file_type" {
			require.Equal(t, kv.Any(), v.Any(), kv.Key)
		}
	}
	require.Contains(t, log.String(), "do not divide into Q8_0 blocks of 32; kept F32")
	require.Equal(t, len(src.Tensors)+1, strings.Count(log.String(), "\n"), "one line per tensor and a summary")
}

// TestRequantizeWarns: a quantized input is dequantized and requantized,
// with a warning per tensor.
func TestRequantizeWarns(t *testing.T) {
	in := testdata.Path(t, "models/stories260K-q8_0.gguf")
	out := filepath.Join(t.TempDir(), "q4_0.gguf")
	var log bytes.Buffer
	require.NoError(t, quantize.File(in, out, quantize.Options{FileType: quantize.FileTypeQ4_0, Log: &log}))
	require.Contains(t, log.String(), "warning: requantizing Q8_0 to Q4_0")
	f, err := gguf.Open(out)
	require.NoError(t, err)
	defer f.Close()
	ti, ok := f.Tensor("blk.0.attn_q.weight")
	require.True(t, ok)
	require.Equal(t, gguf.TypeQ4_0, ti.Type)
	// output.weight's 64-wide rows fit Q4_0 but not Q6_K: llama.cpp makes it Q8_0.
	ti, _ = f.Tensor("output.weight")
	require.Equal(t, gguf.TypeQ8_0, ti.Type)
}

// TestFailureLeavesNoOutput: a file that cannot be converted leaves an
// existing OUT as it was and no temporary file beside it.
func TestFailureLeavesNoOutput(t *testing.T) {
	dir := t.TempDir()
	w := gguf.NewWriter()
	require.NoError(t, w.AddKV("general.architecture", "llama"))
	require.NoError(t, w.AddTensor("blk.0.attn_q.weight", gguf.TypeI8, []uint64{32, 2}, make([]byte, 64)))
	in := filepath.Join(dir, "in.gguf")
	require.NoError(t, w.WriteFile(in))
	out := filepath.Join(dir, "out.gguf")
	require.NoError(t, os.WriteFile(out, []byte("old"), 0o644))

	err := quantize.File(in, out, quantize.Options{FileType: quantize.FileTypeQ4_K_M})
	require.ErrorContains(t, err, "cannot read I8")
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, "old", string(b))
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, ents, 2)
}

func TestParseFileType(t *testing.T) {
	for _, name := range []string{"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_M", "Q4_K_S", "Q4_K_M", "Q5_K_M", "Q6_K"} {
		ft, err := quantize.ParseFileType(strings.ToLower(name))
		require.NoError(t, err, name)
		require.Equal(t, name, ft.String())
	}
	_, err := quantize.ParseFileType("Q4_K_L")
	require.ErrorContains(t, err, "unknown type")
}
