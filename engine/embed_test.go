package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// embedExpected is ../shared/embed/expected/NAME.json: llama.cpp's outputs.
type embedExpected struct {
	Model       string `json:"model"`
	Arch        string `json:"arch"`
	PoolingType int    `json:"pooling_type"`
	Normalized  bool   `json:"normalized"`
	Cases       []struct {
		Text      string    `json:"text"`
		Query     string    `json:"query"`
		Document  string    `json:"document"`
		TokenIDs  []int32   `json:"token_ids"`
		Embedding []float32 `json:"embedding"`
		L2Norm    float64   `json:"l2_norm"`
		ScoreRaw  float64   `json:"score_raw"`
		Score     float64   `json:"score"`
	} `json:"cases"`
}

var embedModels = []string{"bert-cls", "bert-mean", "nomic-bert", "qwen3-embed", "bert-rerank"}

func readEmbedExpected(t *testing.T, name string) embedExpected {
	t.Helper()
	data, err := os.ReadFile(testdata.Path(t, "embed/expected/"+name+".json"))
	require.NoError(t, err)
	var e embedExpected
	require.NoError(t, json.Unmarshal(data, &e))
	require.False(t, e.Normalized)
	return e
}

func cosine(a, b []float32) (cos, maxDiff float64) {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
		maxDiff = math.Max(maxDiff, math.Abs(float64(a[i])-float64(b[i])))
	}
	return ab / math.Sqrt(aa*bb), maxDiff
}

// checkEmbedParity compares every model's tokens, raw pooled vectors,
// normalized vectors and rerank scores with llama.cpp's, within the README's
// tolerances.
func checkEmbedParity(t *testing.T, backend string) {
	for _, name := range embedModels {
		t.Run(name, func(t *testing.T) {
			e := readEmbedExpected(t, name)
			m, err := Load(testdata.Path(t, "embed/"+name+".gguf"), Options{Backend: backend, Threads: 2})
			require.NoError(t, err)
			defer m.Close()
			require.True(t, m.IsEmbedding())
			p, err := m.Pooling()
			require.NoError(t, err)
			require.Equal(t, e.PoolingType, int(p))
			ctx := context.Background()
			if name == "bert-rerank" {
				var docs []string
				for _, c := range e.Cases {
					require.Equal(t, c.TokenIDs, m.RerankTokenize(c.Query, c.Document), "pair %q / %q", c.Query, c.Document)
					docs = append(docs, c.Document)
				}
				// Each case's own query against all the documents.
				for i, c := range e.Cases {
					scores, err := m.Rerank(ctx, c.Query, docs)
					require.NoError(t, err)
					raw := float64(scores[i])
					require.InDelta(t, c.ScoreRaw, raw, 5e-3, "case %d raw score", i)
					require.InDelta(t, c.Score, 1/(1+math.Exp(-raw)), 1e-3, "case %d score", i)
					t.Logf("case %d: score_raw %.6f (llama.cpp %.6f)", i, raw, c.ScoreRaw)
				}
				return
			}
			var inputs [][]int32
			for _, c := range e.Cases {
				ids := m.EmbedTokenize(c.Text)
				require.Equal(t, c.TokenIDs, ids, "text %q", c.Text)
				inputs = append(inputs, ids)
			}
			raw, err := m.EmbedTokens(ctx, inputs, EmbedOptions{Raw: true})
			require.NoError(t, err)
			texts := make([]string, len(e.Cases))
			for i, c := range e.Cases {
				texts[i] = c.Text
			}
			unit, err := m.Embed(ctx, texts)
			require.NoError(t, err)
			for i, c := range e.Cases {
				cos, diff := cosine(raw[i], c.Embedding)
				t.Logf("case %d: cosine %.8f, max |diff| %.2e", i, cos, diff)
				require.GreaterOrEqual(t, cos, 0.9999, "case %d", i)
				require.LessOrEqual(t, diff, 1e-2, "case %d", i)
				want := make([]float32, len(c.Embedding))
				for j, v := range c.Embedding {
					want[j] = float32(float64(v) / c.L2Norm)
				}
				cos, diff = cosine(unit[i], want)
				require.GreaterOrEqual(t, cos, 0.9999, "case %d normalized", i)
				require.LessOrEqual(t, diff, 1e-2/c.L2Norm*2, "case %d normalized", i)
			}
		})
	}
}

func TestEmbedParityCPU(t *testing.T) { checkEmbedParity(t, "cpu") }

// mixedTexts are 17 inputs of very different lengths.
func mixedTexts() []string {
	var texts []string
	for i := range 17 {
		s := strings.Repeat(fmt.Sprintf("word%d and some more text, ", i), (i*7)%23+1)
		texts = append(texts, s[:min(len(s), max(1, (i*37)%300))])
	}
	texts[3] = ""
	return texts
}

// checkEmbedInvariance: an input's vector (and a pair's score) is
// bit-identical alone and in a batch of 17 inputs of mixed lengths, and
// concurrent callers get the same bits too.
func checkEmbedInvariance(t *testing.T, backend string, models ...string) {
	for _, name := range models {
		t.Run(name, func(t *testing.T) {
			m, err := Load(testdata.Path(t, "embed/"+name+".gguf"), Options{Backend: backend, Threads: 2})
			require.NoError(t, err)
			defer m.Close()
			ctx := context.Background()
			texts := mixedTexts()
			var inputs [][]int32
			for _, tx := range texts {
				if name == "bert-rerank" {
					inputs = append(inputs, m.RerankTokenize("what is a panda?", tx))
				} else {
					inputs = append(inputs, m.EmbedTokenize(tx))
				}
			}
			all, err := m.EmbedTokens(ctx, inputs, EmbedOptions{Raw: true})
			require.NoError(t, err)
			for i, in := range inputs {
				alone, err := m.EmbedTokens(ctx, [][]int32{in}, EmbedOptions{Raw: true})
				require.NoError(t, err)
				require.Equal(t, alone[0], all[i], "input %d (%d tokens)", i, len(in))
			}
			// Concurrent callers, one input each, share passes.
			var wg sync.WaitGroup
			got := make([][]float32, len(inputs))
			errs := make([]error, len(inputs))
			for i := range inputs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					out, err := m.EmbedTokens(ctx, inputs[i:i+1], EmbedOptions{Raw: true})
					errs[i] = err
					if err == nil {
						got[i] = out[0]
					}
				}()
			}
			wg.Wait()
			for i := range inputs {
				require.NoError(t, errs[i])
				require.Equal(t, all[i], got[i], "concurrent input %d", i)
			}
		})
	}
}

func TestEmbedBatchInvarianceCPU(t *testing.T) { checkEmbedInvariance(t, "cpu", embedModels...) }

func TestEmbedTooLong(t *testing.T) {
	m, err := Load(testdata.Path(t, "embed/bert-cls.gguf"), Options{Backend: "cpu", Threads: 2})
	require.NoError(t, err)
	defer m.Close()
	long := strings.Repeat("hello ", 600)
	_, err = m.Embed(context.Background(), []string{"short", long})
	var tl *InputTooLongError
	require.ErrorAs(t, err, &tl)
	require.Equal(t, InputTooLongError{Index: 1, Tokens: 602, Context: 512}, *tl)
	require.EqualError(t, err, "engine: input 1 has 602 tokens, more than the context of 512")
	out, err := m.EmbedTokens(context.Background(), [][]int32{m.EmbedTokenize(long)}, EmbedOptions{Truncate: true})
	require.NoError(t, err)
	require.Len(t, out[0], 64)

	_, err = m.Rerank(context.Background(), "q", []string{"d"})
	require.ErrorContains(t, err, "not a reranker")
	_, err = m.NewSession(SessionOptions{})
	require.ErrorContains(t, err, "embedding model")
}
