package engine

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/internal/testdata"
	"github.com/conveyor-llm/conveyor/model"
	"github.com/conveyor-llm/conveyor/model/synth"
)

// synthModel writes a small random-weight Llama of the given weight type.
func synthModel(t testing.TB, typ gguf.Type) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "synth-"+typ.String()+".gguf")
	require.NoError(t, synth.Write(path, synth.Config{Arch: "llama", Dim: 128, Layers: 2, Heads: 4, KVHeads: 2, FFN: 352,
		VocabSize: 600, Type: typ, Seed: 7}))
	return path
}

// packedSynthModel writes a random-weight Llama of a few megabytes, large
// enough that the CPU backend copies its weights into memory of its own and
// packs its Q8_0/Q4_0 matrices for the VNNI and AMX kernels (small files are
// computed on in place, unpacked).
func packedSynthModel(t testing.TB, typ gguf.Type) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "synth-packed-"+typ.String()+".gguf")
	require.NoError(t, synth.Write(path, synth.Config{Arch: "llama", Dim: 256, Layers: 2, Heads: 4, KVHeads: 2, FFN: 768,
		VocabSize: 4000, Type: typ, Seed: 8}))
	return path
}

// seqBatchOf is tokens at positions start.. of sequence seq, wanting the logits of the last.
func seqBatchOf(tokens []int32, start int, seq int32) model.Batch {
	b := model.Batch{Tokens: tokens, Outputs: []int32{int32(len(tokens) - 1)}}
	for i := range tokens {
		b.Pos = append(b.Pos, int32(start+i))
		b.Seq = append(b.Seq, seq)
	}
	return b
}

// A sequence's logits do not depend on what else is in the batch or on how its
// prompt was split into batches: bit for bit, on every backend.
func TestBatchInvariance(t *testing.T) {
	for _, b := range testBackends() {
		t.Run(b, func(t *testing.T) { testBatchInvariance(t, b) })
	}
}

func testBatchInvariance(t *testing.T, backendName string) {
	models := map[string]string{
		"stories260K":       testdata.Path(t, "models/stories260K.gguf"),
		"stories260K-q8_0":  testdata.Path(t, "models/stories260K-q8_0.gguf"),
		"synth-q4_0":        synthModel(t, gguf.TypeQ4_0),
		"synth-f16":         synthModel(t, gguf.TypeF16),
		"synth-q8_0-packed": packedSynthModel(t, gguf.TypeQ8_0),
		"synth-q4_0-packed": packedSynthModel(t, gguf.TypeQ4_0),
		// K-quants at rows of 256 values: the batch paths of 4 to 7 and
		// of 8 or more activation rows, and the one-row tiles.
		"synth-q4_k": packedSynthModel(t, gguf.TypeQ4_K),
		"synth-q5_k": packedSynthModel(t, gguf.TypeQ5_K),
		"synth-q6_k": packedSynthModel(t, gguf.TypeQ6_K),
	}
	for name, path := range models {
		t.Run(name, func(t *testing.T) { checkBatchInvariance(t, backendName, path) })
	}
}

// checkBatchInvariance checks one model: a prompt's logits alone, beside
// another sequence, and prefilled in chunks are the same bit for bit.
func checkBatchInvariance(t *testing.T, backendName, path string) {
	prompt := []int32{1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421}
	other := []int32{1, 317, 269, 274, 287, 382, 276, 337, 299}
	m, err := Load(path, Options{Backend: backendName, Threads: 2})
	require.NoError(t, err)
	defer m.Close()
	s, err := m.NewSession(SessionOptions{Context: 64, Sequences: 3, BatchSize: 32})
	require.NoError(t, err)
	defer s.Close()
	copyRow := func(rows [][]float32, i int) []float32 { return append([]float32(nil), rows[i]...) }

	// Alone, in one batch, in sequence 0.
	out, err := s.Forward(seqBatchOf(prompt, 0, 0))
	require.NoError(t, err)
	alone := copyRow(out, 0)

	// In a batch with another sequence, interleaved, in sequence 1.
	var mixed model.Batch
	for i := range max(len(prompt), len(other)) {
		if i < len(other) {
			mixed.Tokens, mixed.Pos, mixed.Seq = append(mixed.Tokens, other[i]), append(mixed.Pos, int32(i)), append(mixed.Seq, 2)
		}
		if i < len(prompt) {
			mixed.Tokens, mixed.Pos, mixed.Seq = append(mixed.Tokens, prompt[i]), append(mixed.Pos, int32(i)), append(mixed.Seq, 1)
		}
	}
	last := int32(len(mixed.Tokens) - 1) // prompt is longer, so its last token is the batch's last
	mixed.Outputs = []int32{last, int32(2*len(other) - 2)}
	out, err = s.Forward(mixed)
	require.NoError(t, err)
	require.Equal(t, alone, out[0], "logits in a mixed batch differ from alone")

	// Prefilled in chunks of 5, 1 and the rest, in sequence 2 (overwriting it).
	var chunked []float32
	for _, r := range [][2]int{{0, 5}, {5, 6}, {6, len(prompt)}} {
		out, err = s.Forward(seqBatchOf(prompt[r[0]:r[1]], r[0], 2))
		require.NoError(t, err)
		chunked = copyRow(out, 0)
	}
	require.Equal(t, alone, chunked, "logits of a chunked prefill differ from one batch")
}
