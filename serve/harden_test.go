package serve

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// Every sampling field is honoured: each changes the answer as it should.
func TestSamplingFieldsHonoured(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 1, Context: 128})
	answer := func(extra map[string]any) string {
		t.Helper()
		body := completionBody("Once upon a time", map[string]any{"max_tokens": 64, "seed": 7})
		for k, v := range extra {
			body[k] = v
		}
		return s.complete(t, "/v1/completions", body).text()
	}
	greedy := answer(map[string]any{"temperature": 0})
	require.NotEmpty(t, greedy)
	// top_k 1 and min_p 1 keep only the most likely token, whatever the temperature.
	require.Equal(t, greedy, answer(map[string]any{"temperature": 2, "top_k": 1}))
	require.Equal(t, greedy, answer(map[string]any{"temperature": 2, "min_p": 1}))
	for _, extra := range []map[string]any{
		{"repeat_penalty": 10, "repeat_last_n": -1},
		{"presence_penalty": 2},
		{"frequency_penalty": 2},
		{"logit_bias": map[string]float64{"300": 100}},
	} {
		extra["temperature"] = 0
		require.NotEqual(t, greedy, answer(extra), "%v changes the answer", extra)
	}
	// A ban on the token greedy decoding chose first.
	first := s.complete(t, "/v1/completions", completionBody("Once upon a time", map[string]any{"max_tokens": 1, "temperature": 0}))
	require.NotEmpty(t, first.text())
	biased := strings.TrimSpace(s.m.Tokenizer().Decode([]int32{300, 300, 300, 300}))
	require.Equal(t, biased, strings.TrimSpace(s.complete(t, "/v1/completions", completionBody("Once upon a time",
		map[string]any{"max_tokens": 4, "temperature": 0, "logit_bias": map[string]float64{"300": 100}})).text()))
}

func TestSamplingFieldsRefused(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 1, Context: 64})
	manyStops := `["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]`
	for _, tc := range []struct{ name, body, param string }{
		{"top_k negative", `{"prompt": "a", "top_k": -1}`, "top_k"},
		{"top_k a string", `{"prompt": "a", "top_k": "x"}`, "top_k"},
		{"min_p above 1", `{"prompt": "a", "min_p": 1.5}`, "min_p"},
		{"min_p negative", `{"prompt": "a", "min_p": -0.1}`, "min_p"},
		{"repeat_penalty negative", `{"prompt": "a", "repeat_penalty": -1}`, "repeat_penalty"},
		{"repeat_last_n below -1", `{"prompt": "a", "repeat_last_n": -2}`, "repeat_last_n"},
		{"presence_penalty above 2", `{"prompt": "a", "presence_penalty": 2.5}`, "presence_penalty"},
		{"frequency_penalty below -2", `{"prompt": "a", "frequency_penalty": -3}`, "frequency_penalty"},
		{"logit_bias key not a token", `{"prompt": "a", "logit_bias": {"cat": 1}}`, "logit_bias"},
		{"logit_bias key outside the vocabulary", `{"prompt": "a", "logit_bias": {"999999": 1}}`, "logit_bias"},
		{"logit_bias value too large", `{"prompt": "a", "logit_bias": {"5": 101}}`, "logit_bias"},
		{"temperature negative", `{"prompt": "a", "temperature": -0.5}`, "temperature"},
		{"mirostat", `{"prompt": "a", "mirostat": 2}`, "mirostat"},
		{"grammar not GBNF", `{"prompt": "a", "grammar": "root ::= \"a"}`, "grammar"},
		{"json_schema with a keyword we cannot enforce", `{"prompt": "a", "json_schema": {"type": "array", "uniqueItems": true}}`, "json_schema"},
		{"response_format of an unknown type", `{"prompt": "a", "response_format": {"type": "xml"}}`, "response_format"},
		{"two constraints", `{"prompt": "a", "grammar": "root ::= \"a\"", "format": "json"}`, "format"},
		{"top_logprobs", `{"prompt": "a", "top_logprobs": 3}`, "top_logprobs"},
		{"too many stop strings", `{"prompt": "a", "stop": ` + manyStops + `}`, "stop"},
		{"a long stop string", `{"prompt": "a", "stop": "` + strings.Repeat("x", 300) + `"}`, "stop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/v1/completions", "/v1/chat/completions"} {
				body := tc.body
				if path == "/v1/chat/completions" {
					body = strings.Replace(body, `"prompt": "a"`, `"messages": [{"role": "user", "content": "a"}]`, 1)
				}
				status, _, out := s.post(t, path, body)
				require.Equal(t, http.StatusBadRequest, status, "%s: %s", path, out)
				requireAPIError(t, out, "invalid_request_error", tc.param, "")
			}
		})
	}
	// The off values are accepted.
	for _, body := range []string{
		`{"prompt": "a", "max_tokens": 1, "top_k": 0, "min_p": 0, "repeat_penalty": 1, "presence_penalty": 0, "frequency_penalty": 0, "logit_bias": {}}`,
		`{"prompt": "a", "max_tokens": 1, "mirostat": 0, "typical_p": 1, "response_format": {"type": "text"}}`,
	} {
		status, _, out := s.post(t, "/v1/completions", body)
		require.Equal(t, http.StatusOK, status, "%s: %s", body, out)
	}
}

func TestJSONContentTypeRequired(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 1, Context: 64})
	body := `{"prompt": "a", "max_tokens": 1}`
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		req, err := http.NewRequest("POST", s.URL+"/v1/completions", strings.NewReader(body))
		require.NoError(t, err)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode, "%q", ct)
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON"} {
		resp, err := http.Post(s.URL+"/v1/completions", ct, strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%q", ct)
	}
	require.Equal(t, int64(3), s.sched.Metrics().Requests)
}

// What OpenAI clients send back after a tool call renders with a template
// that treats content as a string (Qwen3's): content null beside tool_calls,
// content as an array of text parts.
func TestToolCallTurnRendersWithQwen3(t *testing.T) {
	m := loadStories(t)
	src, err := os.ReadFile(testdata.Path(t, "chat-templates/templates/Qwen-Qwen3-0.6B.jinja"))
	require.NoError(t, err)
	s := startServerWith(t, m, engine.SchedulerOptions{Parallel: 1, Context: 1024}, Options{ModelID: modelID, ChatTemplate: string(src)})
	tool := `{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}`
	call := `{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}`
	for _, assistant := range []string{
		`{"role": "assistant", "content": null, "tool_calls": [` + call + `]}`,
		`{"role": "assistant", "tool_calls": [` + call + `]}`,
		`{"role": "assistant", "content": [{"type": "text", "text": "Let me look."}], "tool_calls": [` + call + `]}`,
	} {
		body := `{"messages": [{"role": "system", "content": [{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}]},
			{"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]}, ` + assistant + `,
			{"role": "tool", "tool_call_id": "call_1", "content": "sunny"}], "tools": [` + tool + `], "max_tokens": 1}`
		status, _, out := s.post(t, "/v1/chat/completions", body)
		require.Equal(t, http.StatusOK, status, "%s: %s", assistant, out)
	}
	// The rendering: the tool call, the system text joined.
	text, err := New(m, s.sched, Options{ChatTemplate: string(src)}).renderChat(context.Background(), []map[string]any{
		{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
		{"role": "assistant", "content": "", "tool_calls": []any{map[string]any{"type": "function", "function": map[string]any{"name": "f", "arguments": "{}"}}}},
	}, nil, nil)
	require.NoError(t, err)
	require.Contains(t, text, "\n\n<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call><|im_end|>")
}

// A hostile chat template (from a model file) fails its request, and the
// server goes on serving.
func TestHostileTemplateFailsOnlyItsRequest(t *testing.T) {
	m := loadStories(t)
	for _, tmpl := range []string{
		`{{ 'a' * 10000000000 }}`,
		`{{ range(10**12) | length }}`,
		`{{ ` + strings.Repeat("(", 1000000) + `1` + strings.Repeat(")", 1000000) + ` }}`,
		`{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}`,
	} {
		s := startServerWith(t, m, engine.SchedulerOptions{Parallel: 1, Context: 64}, Options{ModelID: modelID, ChatTemplate: tmpl})
		status, _, out := s.post(t, "/v1/chat/completions", chatBody("Hi", map[string]any{"max_tokens": 1}))
		require.Equal(t, http.StatusBadRequest, status, "%s", out)
		requireAPIError(t, out, "invalid_request_error", "messages", "")
		status, _, out = s.post(t, "/v1/completions", completionBody("Hi", map[string]any{"max_tokens": 1}))
		require.Equal(t, http.StatusOK, status, "%s", out)
	}
}

// A tool result without the id of the call it answers is refused, as OpenAI
// refuses it, instead of reaching the template unpaired.
func TestToolMessageNeedsToolCallID(t *testing.T) {
	for _, msg := range []string{
		`{"role": "tool", "content": "sunny"}`,
		`{"role": "tool", "tool_call_id": "", "content": "sunny"}`,
		`{"role": "tool", "tool_call_id": 7, "content": "sunny"}`,
	} {
		var raw []map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(`[{"role": "user", "content": "Hi"}, `+msg+`]`), &raw))
		_, rerr := chatMessages(raw)
		require.NotNil(t, rerr, msg)
		require.Contains(t, rerr.Error(), "messages[1].tool_call_id")
	}
}
