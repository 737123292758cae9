package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/chat"
	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/internal/testdata"
)

const modelID = "stories260K"

// server is the handler on a loopback listener, over its own scheduler.
type server struct {
	*httptest.Server
	m      *engine.Model
	sched  *engine.Scheduler
	client *http.Client // keeps a connection per client goroutine of the load test
}

func storiesPath(t testing.TB) string { return testdata.Path(t, "models/stories260K.gguf") }

func loadStories(t testing.TB) *engine.Model {
	t.Helper()
	m, err := engine.Load(storiesPath(t), engine.Options{Backend: "cpu", Threads: 2})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

// startServer serves m with --chat-template chatml.
func startServer(t testing.TB, m *engine.Model, o engine.SchedulerOptions) *server {
	t.Helper()
	if m == nil {
		m = loadStories(t)
	}
	tmpl, err := chat.Resolve(m.File(), "chatml")
	require.NoError(t, err)
	return startServerWith(t, m, o, Options{ModelID: ModelID(storiesPath(t)), ChatTemplate: tmpl})
}

// startServerWith serves m with opts; the scheduler runs until the test
// ends, when it drains.
func startServerWith(t testing.TB, m *engine.Model, o engine.SchedulerOptions, opts Options) *server {
	t.Helper()
	sched, err := m.NewScheduler(o)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	go sched.Run(ctx)
	ts := httptest.NewServer(New(m, sched, opts))
	t.Cleanup(func() {
		ts.Close()
		closeCtx, done := context.WithTimeout(context.Background(), 30*time.Second)
		defer done()
		require.NoError(t, sched.Close(closeCtx))
		cancel()
	})
	return &server{Server: ts, m: m, sched: sched, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
}

// post sends body as JSON and returns the status, headers and body.
func (s *server) post(t testing.TB, path string, body any) (int, http.Header, []byte) {
	t.Helper()
	b, ok := body.(string)
	if !ok {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		b = string(raw)
	}
	resp, err := http.Post(s.URL+path, "application/json", strings.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, out
}

func (s *server) get(t testing.TB, path string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(s.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, out
}

// completion is the part of a (chat) completion answer the tests read.
type completion struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index        int     `json:"index"`
		Text         *string `json:"text"`
		FinishReason *string `json:"finish_reason"`
		Message      *struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		Delta *struct {
			Role    *string `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
	} `json:"choices"`
	Usage *usageJSON `json:"usage"`
}

type usageJSON struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

// withCached is u with cached_tokens set to n.
func (u *usageJSON) withCached(n int) *usageJSON {
	c := *u
	c.PromptTokensDetails.CachedTokens = n
	return &c
}

// text is the answer's text, from either endpoint.
func (c *completion) text() string {
	ch := c.Choices[0]
	if ch.Message != nil {
		return ch.Message.Content
	}
	return *ch.Text
}

func (s *server) complete(t testing.TB, path string, body any) *completion {
	t.Helper()
	status, _, out := s.post(t, path, body)
	require.Equal(t, http.StatusOK, status, "%s", out)
	var c completion
	require.NoError(t, json.Unmarshal(out, &c), "%s", out)
	require.Len(t, c.Choices, 1, "%s", out)
	require.NotNil(t, c.Usage, "%s", out)
	return &c
}

// stream posts a streaming request and returns the decoded chunks, checking
// the framing: "data: JSON" events, each followed by a blank line, ending with [DONE].
func (s *server) stream(t testing.TB, path string, body map[string]any) []completion {
	t.Helper()
	body["stream"] = true
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := http.Post(s.URL+path, "application/json", bytes.NewReader(raw))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	all, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	events := strings.Split(string(all), "\n\n")
	require.Equal(t, "", events[len(events)-1], "the stream ends with a blank line")
	events = events[:len(events)-1]
	require.Equal(t, "data: [DONE]", events[len(events)-1])
	var chunks []completion
	for _, ev := range events[:len(events)-1] {
		data, ok := strings.CutPrefix(ev, "data: ")
		require.True(t, ok, "event %q", ev)
		require.NotContains(t, data, "\n")
		var c completion
		require.NoError(t, json.Unmarshal([]byte(data), &c), "%s", data)
		chunks = append(chunks, c)
	}
	return chunks
}

func chatBody(content string, extra map[string]any) map[string]any {
	b := map[string]any{"model": modelID, "messages": []map[string]any{{"role": "user", "content": content}}, "temperature": 0}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func completionBody(prompt string, extra map[string]any) map[string]any {
	b := map[string]any{"model": modelID, "prompt": prompt, "temperature": 0}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// sseLines reads a streaming response line by line (for tests that stop early).
func sseLines(r io.Reader) *bufio.Scanner { return bufio.NewScanner(r) }

func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
