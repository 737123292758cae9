package serve

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// embedServer serves ../shared/embed/NAME.gguf without a scheduler.
func embedServer(t *testing.T, name string) (*engine.Model, string) {
	t.Helper()
	m, err := engine.Load(testdata.Path(t, "embed/"+name+".gguf"), engine.Options{Backend: "cpu", Threads: 2})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	ts := httptest.NewServer(New(m, nil, Options{ModelID: name}))
	t.Cleanup(ts.Close)
	return m, ts.URL
}

func postJSON(t *testing.T, url, body string, out any) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	return resp.StatusCode
}

type embeddingsResponse struct {
	Object string `json:"object"`
	Model  string `json:"model"`
	Data   []struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
	Error *struct {
		Message string  `json:"message"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func TestEmbeddingsEndpoint(t *testing.T) {
	m, url := embedServer(t, "bert-mean")
	want, err := m.Embed(context.Background(), []string{"The quick brown fox", "hello"})
	require.NoError(t, err)

	// A string, an array of strings, token arrays: the same unit vectors.
	var r embeddingsResponse
	require.Equal(t, 200, postJSON(t, url+"/v1/embeddings", `{"model":"bert-mean","input":["The quick brown fox","hello"]}`, &r))
	require.Equal(t, "list", r.Object)
	require.Equal(t, "bert-mean", r.Model)
	require.Len(t, r.Data, 2)
	ids0, ids1 := m.EmbedTokenize("The quick brown fox"), m.EmbedTokenize("hello")
	require.Equal(t, len(ids0)+len(ids1), r.Usage.PromptTokens)
	require.Equal(t, r.Usage.PromptTokens, r.Usage.TotalTokens)
	for i, d := range r.Data {
		require.Equal(t, "embedding", d.Object)
		require.Equal(t, i, d.Index)
		var v []float32
		require.NoError(t, json.Unmarshal(d.Embedding, &v))
		require.Equal(t, want[i], v)
		require.InDelta(t, 1, norm(v), 1e-6)
	}
	r = embeddingsResponse{}
	require.Equal(t, 200, postJSON(t, url+"/v1/embeddings", `{"input":"hello"}`, &r))
	var v []float32
	require.NoError(t, json.Unmarshal(r.Data[0].Embedding, &v))
	require.Equal(t, want[1], v)

	tokens, _ := json.Marshal(map[string]any{"input": [][]int32{ids0, ids1}, "encoding_format": "base64"})
	r = embeddingsResponse{}
	require.Equal(t, 200, postJSON(t, url+"/v1/embeddings", string(tokens), &r))
	for i, d := range r.Data {
		var s string
		require.NoError(t, json.Unmarshal(d.Embedding, &s))
		raw, err := base64.StdEncoding.DecodeString(s)
		require.NoError(t, err)
		got := make([]float32, len(raw)/4)
		for j := range got {
			got[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
		}
		require.Equal(t, want[i], got)
	}
	one, _ := json.Marshal(map[string]any{"input": ids1})
	r = embeddingsResponse{}
	require.Equal(t, 200, postJSON(t, url+"/v1/embeddings", string(one), &r))
	require.NoError(t, json.Unmarshal(r.Data[0].Embedding, &v))
	require.Equal(t, want[1], v)

	// dimensions: the first values, renormalized.
	r = embeddingsResponse{}
	require.Equal(t, 200, postJSON(t, url+"/v1/embeddings", `{"input":"hello","dimensions":16}`, &r))
	require.NoError(t, json.Unmarshal(r.Data[0].Embedding, &v))
	require.Len(t, v, 16)
	require.InDelta(t, 1, norm(v), 1e-6)
	scale := norm(want[1][:16])
	for j := range v {
		require.InDelta(t, float64(want[1][j])/scale, v[j], 1e-6)
	}

	// Mistakes are 400s naming the parameter.
	for body, param := range map[string]string{
		`{"input":"hello","dimensions":65}`:          "dimensions",
		`{"input":"hello","dimensions":0}`:           "dimensions",
		`{"input":"hello","encoding_format":"int8"}`: "encoding_format",
		`{"input":[]}`:          "input",
		`{"input":{"a":1}}`:     "input",
		`{}`:                    "input",
		`{"input":[[1,99999]]}`: "input",
	} {
		r = embeddingsResponse{}
		require.Equal(t, 400, postJSON(t, url+"/v1/embeddings", body, &r), body)
		require.NotNil(t, r.Error, body)
		require.Equal(t, param, *r.Error.Param, body)
	}
	r = embeddingsResponse{}
	require.Equal(t, 404, postJSON(t, url+"/v1/embeddings", `{"model":"other","input":"x"}`, &r))

	// Too long: a 400 with the numbers, or cut when asked.
	long := strings.Repeat("hello ", 600)
	body, _ := json.Marshal(map[string]any{"input": []string{"short", long}})
	r = embeddingsResponse{}
	require.Equal(t, 400, postJSON(t, url+"/v1/embeddings", string(body), &r))
	require.Equal(t, "input 1 has 602 tokens, more than the model's context of 512 tokens (ask for \"truncate\": true to cut it)", r.Error.Message)
	require.Equal(t, "context_length_exceeded", *r.Error.Code)
	body, _ = json.Marshal(map[string]any{"input": []string{"short", long}, "truncate": true})
	r = embeddingsResponse{}
	require.Equal(t, 200, postJSON(t, url+"/v1/embeddings", string(body), &r))
	require.Equal(t, len(m.EmbedTokenize("short"))+512, r.Usage.PromptTokens)

	// Generation is refused; rerank is refused on an embedding model.
	var e embeddingsResponse
	require.Equal(t, 400, postJSON(t, url+"/v1/completions", `{"prompt":"x"}`, &e))
	require.Contains(t, e.Error.Message, "computes embeddings")
	require.Equal(t, 400, postJSON(t, url+"/v1/rerank", `{"query":"x","documents":["y"]}`, &e))
}

// Requests of many clients at once get the vectors each would alone.
func TestEmbeddingsConcurrentClients(t *testing.T) {
	m, url := embedServer(t, "qwen3-embed")
	texts := []string{"a", "the quick brown fox jumps over the lazy dog", "", "What is the capital of France?", "x y z"}
	want, err := m.Embed(context.Background(), texts)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for c := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := c % len(texts)
			body, _ := json.Marshal(map[string]any{"input": texts[i]})
			var r embeddingsResponse
			if !assertStatus(t, 200, postJSON(t, url+"/v1/embeddings", string(body), &r)) {
				return
			}
			var v []float32
			require.NoError(t, json.Unmarshal(r.Data[0].Embedding, &v))
			require.Equal(t, want[i], v, "client %d", c)
		}()
	}
	wg.Wait()
}

func assertStatus(t *testing.T, want, got int) bool {
	if want != got {
		t.Errorf("status %d, want %d", got, want)
		return false
	}
	return true
}

func TestRerankEndpoint(t *testing.T) {
	m, url := embedServer(t, "bert-rerank")
	docs := []string{"The giant panda is a bear species endemic to China.", "Paris is the capital and largest city of France.", "hi"}
	scores, err := m.Rerank(context.Background(), "what is a panda?", docs)
	require.NoError(t, err)
	var r struct {
		Model   string `json:"model"`
		Object  string `json:"object"`
		Results []struct {
			Index          int                `json:"index"`
			RelevanceScore float64            `json:"relevance_score"`
			Document       *map[string]string `json:"document"`
		} `json:"results"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	body, _ := json.Marshal(map[string]any{"model": "bert-rerank", "query": "what is a panda?", "documents": docs, "top_n": 2})
	require.Equal(t, 200, postJSON(t, url+"/v1/rerank", string(body), &r))
	require.Equal(t, "bert-rerank", r.Model)
	require.Len(t, r.Results, 2)
	require.GreaterOrEqual(t, r.Results[0].RelevanceScore, r.Results[1].RelevanceScore)
	for _, res := range r.Results {
		require.Equal(t, float64(scores[res.Index]), res.RelevanceScore)
		require.Nil(t, res.Document)
	}
	best := 0
	for i := range scores {
		if scores[i] > scores[best] {
			best = i
		}
	}
	require.Equal(t, best, r.Results[0].Index)
	require.Positive(t, r.Usage.PromptTokens)

	body, _ = json.Marshal(map[string]any{"query": "what is a panda?", "documents": docs, "return_documents": true})
	r.Results = nil
	require.Equal(t, 200, postJSON(t, url+"/rerank", string(body), &r))
	require.Len(t, r.Results, 3)
	require.Equal(t, docs[r.Results[0].Index], (*r.Results[0].Document)["text"])

	var e embeddingsResponse
	require.Equal(t, 400, postJSON(t, url+"/v1/rerank", `{"query":"x","documents":[]}`, &e))
	require.Equal(t, "documents", *e.Error.Param)
	require.Equal(t, 400, postJSON(t, url+"/v1/rerank", `{"documents":["x"]}`, &e))
	require.Equal(t, "query", *e.Error.Param)
	require.Equal(t, 400, postJSON(t, url+"/v1/embeddings", `{"input":"x"}`, &e))
	require.Contains(t, e.Error.Message, "reranker")
}

func TestOllamaEmbed(t *testing.T) {
	m, url := embedServer(t, "nomic-bert")
	want, err := m.Embed(context.Background(), []string{"hello world", "why is the sky blue?"})
	require.NoError(t, err)
	var r struct {
		Model           string      `json:"model"`
		Embeddings      [][]float32 `json:"embeddings"`
		PromptEvalCount int         `json:"prompt_eval_count"`
	}
	require.Equal(t, 200, postJSON(t, url+"/api/embed", `{"model":"nomic-bert","input":["hello world","why is the sky blue?"]}`, &r))
	require.Equal(t, want, r.Embeddings)
	require.Equal(t, len(m.EmbedTokenize("hello world"))+len(m.EmbedTokenize("why is the sky blue?")), r.PromptEvalCount)
	// ollama truncates by default (nomic-bert's context is 2048 tokens).
	long := strings.Repeat("hello ", 2100)
	body, _ := json.Marshal(map[string]any{"input": long})
	require.Equal(t, 200, postJSON(t, url+"/api/embed", string(body), &r))
	require.Equal(t, 2048, r.PromptEvalCount)
	body, _ = json.Marshal(map[string]any{"input": long, "truncate": false})
	var e embeddingsResponse
	require.Equal(t, 400, postJSON(t, url+"/api/embed", string(body), &e))
}

// The official openai npm client's embeddings.create against `conveyor
// serve` with an embedding model: serve/e2e/embeddings.test.mjs.
func TestOpenAIClientEmbeddings(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node (20 or later) is needed for the end-to-end test with the openai client: %v", err)
	}
	if _, err := os.Stat("e2e/node_modules/openai/package.json"); err != nil {
		t.Fatalf("serve/e2e/node_modules lacks the openai client: run (cd serve/e2e && npm ci --no-audit --no-fund) (%v)", err)
	}
	_, base, log := conveyorServe(t, "-m", testdata.Path(t, "embed/bert-cls.gguf"), "--backend", "cpu", "-t", "2")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	test := exec.CommandContext(ctx, node, "embeddings.test.mjs")
	test.Dir = "e2e"
	test.Env = append(os.Environ(), "OPENAI_BASE_URL="+base+"/v1", "CONVEYOR_MODEL=bert-cls", "OPENAI_API_KEY=not-needed")
	out, err := test.CombinedOutput()
	require.NoError(t, err, "node e2e/embeddings.test.mjs:\n%s\nserver log:\n%s", out, log.String())
	require.Contains(t, string(out), "# fail 0")
}
