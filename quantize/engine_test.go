package quantize_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/model/synth"
	"github.com/conveyor-llm/conveyor/quantize"
	"github.com/stretchr/testify/require"
)

const synthVocab = 512

// logitsAfter loads the model at path on the CPU and returns all logits
// after the prompt, and the greedy next token.
func logitsAfter(t *testing.T, path string, prompt []int32) ([]float32, int32) {
	t.Helper()
	m, err := engine.Load(path, engine.Options{Backend: "cpu"})
	require.NoError(t, err)
	defer m.Close()
	s, err := m.NewSession(engine.SessionOptions{Context: 64})
	require.NoError(t, err)
	defer s.Close()
	res, err := s.Generate(context.Background(), engine.Request{
		PromptIDs: prompt, MaxTokens: 1, Sampling: engine.DefaultSampling(), TopLogits: synthVocab,
	}, func(engine.Token) error { return nil })
	require.NoError(t, err)
	require.Len(t, res.TopLogits, synthVocab)
	logits := make([]float32, synthVocab)
	for _, tl := range res.TopLogits {
		logits[tl.ID] = tl.Logit
	}
	return logits, res.GeneratedIDs[0]
}

// TestKMixesRun: a synthetic Llama (dim 256, FFN 768, 2 layers, every row a
// multiple of 256) quantized to each K mix loads and runs on the CPU, and
// its logits after a prompt are close to the F32 model's: the relative RMS
// difference ‖l_q − l_f‖/‖l_f‖ stays under tol. This random network
// amplifies weight error about sevenfold (Q8_0, whose weights are off by
// ≈0.4% RMS, moves the logits by 2.8%), so the tolerances are 1.5 times the
// measured differences (in the comments), and the mixes must also rank by
// bits: each better than the one below it, Q4_K_M better than Q4_0. (IQ4_NL
// and IQ4_XS, of Q4_0's size, are not ranked: on this network's normal
// weights their smaller weight error (0.076 relative against Q4_0's 0.086)
// moves the logits by about as much as Q4_0's, 0.24 to 0.33 over seeds.)
func TestKMixesRun(t *testing.T) {
	dir := t.TempDir()
	f32 := filepath.Join(dir, "f32.gguf")
	require.NoError(t, synth.Write(f32, synth.Config{
		Arch: "llama", Dim: 256, Layers: 2, Heads: 4, FFN: 768, VocabSize: synthVocab,
		Type: gguf.TypeF32, Seed: 3,
	}))
	prompt := []int32{1, 300, 301, 302, 303, 304, 305, 306}
	ref, _ := logitsAfter(t, f32, prompt)
	cases := []struct {
		ft  quantize.FileType
		tol float64
	}{
		{quantize.FileTypeQ4_0, 0.45},   // 0.297
		{quantize.FileTypeQ2_K, 1.1},    // 0.719
		{quantize.FileTypeQ3_K_M, 0.7},  // 0.457
		{quantize.FileTypeQ4_K_S, 0.4},  // 0.269
		{quantize.FileTypeQ4_K_M, 0.4},  // 0.256
		{quantize.FileTypeQ5_K_M, 0.23}, // 0.154
		{quantize.FileTypeQ6_K, 0.09},   // 0.061
		{quantize.FileTypeIQ4_NL, 0.48}, // 0.317
		{quantize.FileTypeIQ4_XS, 0.5},  // 0.334
	}
	rels := map[quantize.FileType]float64{}
	for _, c := range cases {
		t.Run(c.ft.String(), func(t *testing.T) {
			out := filepath.Join(dir, c.ft.String()+".gguf")
			require.NoError(t, quantize.File(f32, out, quantize.Options{FileType: c.ft}))
			f, err := gguf.Open(out)
			require.NoError(t, err)
			ti, _ := f.Tensor("blk.0.attn_q.weight")
			require.Equal(t, c.ft.Base(), ti.Type)
			f.Close()
			got, _ := logitsAfter(t, out, prompt)
			var num, den float64
			for i := range ref {
				d := float64(got[i] - ref[i])
				num += d * d
				den += float64(ref[i]) * float64(ref[i])
			}
			rel := math.Sqrt(num / den)
			t.Logf("%v: relative RMS logit difference %.4f", c.ft, rel)
			require.LessOrEqual(t, rel, c.tol)
			rels[c.ft] = rel
		})
	}
	order := []quantize.FileType{quantize.FileTypeQ6_K, quantize.FileTypeQ5_K_M, quantize.FileTypeQ4_K_M, quantize.FileTypeQ3_K_M, quantize.FileTypeQ2_K}
	for i := 1; i < len(order); i++ {
		require.Less(t, rels[order[i-1]], rels[order[i]], "%v vs %v", order[i-1], order[i])
	}
	require.Less(t, rels[quantize.FileTypeQ4_K_M], rels[quantize.FileTypeQ4_0])
}
