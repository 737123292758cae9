package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/chat"
	"github.com/conveyor-llm/conveyor/engine"
)

// startServerOpts serves stories260K with chatml and o's extra options.
func startServerOpts(t *testing.T, o Options) *server {
	t.Helper()
	m := loadStories(t)
	tmpl, err := chat.Resolve(m.File(), "chatml")
	require.NoError(t, err)
	o.ModelID, o.ChatTemplate = ModelID(storiesPath(t)), tmpl
	return startServerWith(t, m, engine.SchedulerOptions{Parallel: 2, Context: 256}, o)
}

func (s *server) do(t *testing.T, method, path, body string, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, out
}

// A prompt far longer than the context is refused by its length, before it
// is tokenized: a 15 MB prompt costs little more than its body.
func TestHugePromptRefusedBeforeTokenizing(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 1, Context: 256})
	h := New(s.m, s.sched, Options{})
	huge := strings.Repeat("Once upon a time there was a cat. ", 15<<20/34)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ids, err := h.encodeWithin(huge, "prompt")
	runtime.ReadMemStats(&after)
	require.Nil(t, ids)
	require.NotNil(t, err)
	require.Equal(t, "context_length_exceeded", err.code)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "allocated while refusing the prompt")

	// Over HTTP, for both endpoints; a prompt that fits still works.
	start := time.Now()
	status, _, out := s.post(t, "/v1/completions", completionBody(huge, nil))
	require.Equal(t, http.StatusBadRequest, status, "%s", out)
	requireAPIError(t, out, "invalid_request_error", "prompt", "context_length_exceeded")
	status, _, out = s.post(t, "/v1/chat/completions", chatBody(huge, nil))
	require.Equal(t, http.StatusBadRequest, status, "%s", out)
	requireAPIError(t, out, "invalid_request_error", "messages", "context_length_exceeded")
	t.Logf("two 15 MB prompts refused in %v", time.Since(start))
	s.complete(t, "/v1/completions", completionBody("Once upon a time", map[string]any{"max_tokens": 2}))
}

// Bodies past the limit get 413.
func TestBodyLimit(t *testing.T) {
	s := startServerOpts(t, Options{MaxBodyBytes: 1000})
	status, _, out := s.post(t, "/v1/completions", completionBody(strings.Repeat("a", 2000), nil))
	require.Equal(t, http.StatusRequestEntityTooLarge, status, "%s", out)
	requireAPIError(t, out, "invalid_request_error", "", "")
}

// Options.MaxTokens caps max_tokens: more is a 400, none is the cap.
func TestMaxTokensCap(t *testing.T) {
	s := startServerOpts(t, Options{MaxTokens: 3})
	status, _, out := s.post(t, "/v1/chat/completions", chatBody("Hi", map[string]any{"max_tokens": 4}))
	require.Equal(t, http.StatusBadRequest, status, "%s", out)
	requireAPIError(t, out, "invalid_request_error", "max_tokens", "")
	status, _, out = s.post(t, "/v1/completions", completionBody("Hi", map[string]any{"max_completion_tokens": 100}))
	require.Equal(t, http.StatusBadRequest, status, "%s", out)
	requireAPIError(t, out, "invalid_request_error", "max_completion_tokens", "")

	c := s.complete(t, "/v1/chat/completions", chatBody("Once upon a time", map[string]any{"ignore_eos": true}))
	require.Equal(t, 3, c.Usage.CompletionTokens)
	c = s.complete(t, "/v1/completions", completionBody("Once upon a time", map[string]any{"max_tokens": 2}))
	require.Equal(t, 2, c.Usage.CompletionTokens)
}

// With API keys, everything but /health needs one of them.
func TestAPIKey(t *testing.T) {
	s := startServerOpts(t, Options{APIKeys: []string{"sk-one", "sk-two"}})
	body, _ := json.Marshal(completionBody("Once", map[string]any{"max_tokens": 1}))
	for _, c := range []struct {
		method, path, body, auth string
		want                     int
	}{
		{"GET", "/health", "", "", 200},
		{"GET", "/v1/models", "", "", 401},
		{"GET", "/metrics", "", "", 401},
		{"GET", "/nowhere", "", "", 401},
		{"POST", "/v1/completions", string(body), "", 401},
		{"POST", "/v1/completions", string(body), "Bearer sk-on", 401},
		{"POST", "/v1/completions", string(body), "Bearer sk-one2", 401},
		{"POST", "/v1/completions", string(body), "Basic sk-one", 401},
		{"POST", "/v1/completions", string(body), "sk-one", 401},
		{"POST", "/v1/completions", string(body), "Bearer sk-one", 200},
		{"POST", "/v1/completions", string(body), "bearer sk-two", 200},
		{"GET", "/v1/models", "", "Bearer sk-two", 200},
	} {
		h := map[string]string{}
		if c.auth != "" {
			h["Authorization"] = c.auth
		}
		status, header, out := s.do(t, c.method, c.path, c.body, h)
		require.Equal(t, c.want, status, "%s %s %q: %s", c.method, c.path, c.auth, out)
		if status == 401 {
			requireAPIError(t, out, "invalid_request_error", "", "invalid_api_key")
			require.Contains(t, header.Get("WWW-Authenticate"), "Bearer")
		}
	}
}

// CORS: allowed origins get Access-Control-Allow-Origin and their preflights
// are answered (without an API key); others get neither.
func TestCORS(t *testing.T) {
	s := startServerOpts(t, Options{CORSOrigins: []string{"https://app.example"}, APIKeys: []string{"k"}})
	pre := map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "authorization, content-type"}
	status, h, out := s.do(t, "OPTIONS", "/v1/chat/completions", "", pre)
	require.Equal(t, http.StatusNoContent, status, "%s", out)
	require.Equal(t, "https://app.example", h.Get("Access-Control-Allow-Origin"))
	require.Contains(t, h.Get("Access-Control-Allow-Methods"), "POST")
	require.Contains(t, h.Get("Access-Control-Allow-Headers"), "Authorization")
	require.Contains(t, h.Get("Access-Control-Allow-Headers"), "Content-Type")

	pre["Origin"] = "https://evil.example"
	status, h, _ = s.do(t, "OPTIONS", "/v1/chat/completions", "", pre)
	require.Equal(t, http.StatusForbidden, status)
	require.Empty(t, h.Get("Access-Control-Allow-Origin"))

	body, _ := json.Marshal(completionBody("Once", map[string]any{"max_tokens": 1}))
	status, h, out = s.do(t, "POST", "/v1/completions", string(body), map[string]string{"Origin": "https://app.example", "Authorization": "Bearer k"})
	require.Equal(t, http.StatusOK, status, "%s", out)
	require.Equal(t, "https://app.example", h.Get("Access-Control-Allow-Origin"))
	require.Contains(t, h.Values("Vary"), "Origin")
	_, h, _ = s.do(t, "GET", "/health", "", map[string]string{"Origin": "https://evil.example"})
	require.Empty(t, h.Get("Access-Control-Allow-Origin"))

	any := startServerOpts(t, Options{CORSOrigins: []string{"*"}})
	status, h, _ = any.do(t, "OPTIONS", "/v1/completions", "", pre)
	require.Equal(t, http.StatusNoContent, status)
	require.Equal(t, "https://evil.example", h.Get("Access-Control-Allow-Origin"))
}

// One access-log line per request: method, path, status, tokens, time; the
// prompt never appears.
func TestAccessLog(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	s := startServerOpts(t, Options{AccessLog: func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, fmt.Sprintf(format, args...))
	}})
	secret := "Once upon a time a secret prompt"
	s.complete(t, "/v1/completions", completionBody(secret, map[string]any{"max_tokens": 3, "ignore_eos": true}))
	s.answer("/v1/chat/completions", chatBody(secret, map[string]any{"max_tokens": 2, "ignore_eos": true}), true)
	s.get(t, "/health")
	s.get(t, "/nowhere")
	s.post(t, "/v1/completions", `{"prompt":`)
	time.Sleep(50 * time.Millisecond) // the handler logs after the answer is out
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, lines, 5, "%q", lines)
	require.Regexp(t, `^POST "/v1/completions" 200 prompt_tokens=\d+ completion_tokens=3 \d+\.\d{3}s$`, lines[0])
	require.Regexp(t, `^POST "/v1/chat/completions" 200 prompt_tokens=\d+ completion_tokens=2 \d+\.\d{3}s$`, lines[1])
	require.Regexp(t, `^GET "/health" 200 prompt_tokens=0 completion_tokens=0 `, lines[2])
	require.Regexp(t, `^GET "/nowhere" 404 `, lines[3])
	require.Regexp(t, `^POST "/v1/completions" 400 `, lines[4])
	for _, l := range lines {
		require.NotContains(t, l, "secret")
	}
}

// /v1/models gives the same created time on every call.
func TestModelsCreatedIsStable(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 1, Context: 256})
	created := func() int64 {
		_, _, out := s.get(t, "/v1/models")
		var list struct{ Data []modelObject }
		require.NoError(t, json.Unmarshal(out, &list))
		return list.Data[0].Created
	}
	first := created()
	for now := time.Now().Unix(); time.Now().Unix() == now; {
		time.Sleep(20 * time.Millisecond)
	}
	require.Equal(t, first, created())
}

// A request that sets no sampling field samples with llama-server's defaults.
func TestServerSamplingDefaults(t *testing.T) {
	var p params
	var req engine.Request
	require.Nil(t, p.check("m", 100, -1, 0, &req))
	s := req.Sampling
	require.Equal(t, float32(0.8), s.Temperature)
	require.Equal(t, 40, s.TopK)
	require.Equal(t, float32(0.95), s.TopP)
	require.Equal(t, float32(0.05), s.MinP)
	zero := 0.0
	p.Temperature = &zero
	require.Nil(t, p.check("m", 100, -1, 0, &req))
	require.Zero(t, req.Sampling.Temperature)
}

// Chat templates see what they expect (bos_token, eos_token,
// add_generation_prompt, tools, enable_thinking, chat_template_kwargs), and a
// rendering ends with its request.
func TestTemplateVariables(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 1, Context: 256})
	src := `{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}|{{ enable_thinking }}|{{ tools | length if tools else 'none' }}|{{ reasoning_effort | default('-') }}`
	h := New(s.m, s.sched, Options{ChatTemplate: src})
	msgs := []map[string]any{{"role": "user", "content": "Hi"}}
	text, err := h.renderChat(t.Context(), msgs, nil, nil)
	require.NoError(t, err)
	require.Equal(t, "<s>|</s>|True|True|none|-", text)
	text, err = h.renderChat(t.Context(), msgs, []any{map[string]any{"type": "function"}},
		map[string]any{"enable_thinking": false, "reasoning_effort": "low"})
	require.NoError(t, err)
	require.Equal(t, "<s>|</s>|True|False|1|low", text)

	_, text, err = s.m.ChatPrompt(src, msgs, nil, time.Now())
	require.NoError(t, err)
	require.Equal(t, "<s>|</s>|True|True|none|-", text)

	slow := `{% for i in range(100000) %}{% for j in range(9) %}{{ i }}{% endfor %}{% endfor %}`
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = New(s.m, s.sched, Options{ChatTemplate: slow}).renderChat(ctx, msgs, nil, nil)
	require.ErrorIs(t, err, context.Canceled)

	// Over HTTP, chat_template_kwargs reach the template.
	status, _, out := s.post(t, "/v1/chat/completions", chatBody("Hi", map[string]any{"max_tokens": 1, "chat_template_kwargs": map[string]any{"enable_thinking": false}}))
	require.Equal(t, http.StatusOK, status, "%s", out)
}
