package serve

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/engine"
)

func TestModelsHealthAndModelID(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 1, Context: 256})
	require.Equal(t, modelID, ModelID("/x/y/stories260K.gguf"))

	status, _, out := s.get(t, "/v1/models")
	require.Equal(t, http.StatusOK, status)
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			ID, Object, OwnedBy string
			Created             int64
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(out, &list))
	require.Equal(t, "list", list.Object)
	require.Len(t, list.Data, 1)
	require.Equal(t, modelID, list.Data[0].ID)
	require.Equal(t, "model", list.Data[0].Object)
	require.NotZero(t, list.Data[0].Created)

	status, _, out = s.get(t, "/v1/models/"+modelID)
	require.Equal(t, http.StatusOK, status, "%s", out)
	status, _, out = s.get(t, "/v1/models/gpt-4o")
	require.Equal(t, http.StatusNotFound, status)
	requireAPIError(t, out, "invalid_request_error", "model", "model_not_found")

	status, _, out = s.get(t, "/health")
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"status":"ok"}`, string(out))
}

func TestChatCompletionWholeAnswer(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 2, Context: 256})
	c := s.complete(t, "/v1/chat/completions", chatBody("Tell me a story.", map[string]any{"max_tokens": 12}))
	require.True(t, strings.HasPrefix(c.ID, "chatcmpl-"), c.ID)
	require.Equal(t, "chat.completion", c.Object)
	require.Equal(t, modelID, c.Model)
	require.NotZero(t, c.Created)
	require.Equal(t, "assistant", c.Choices[0].Message.Role)
	require.NotEmpty(t, c.Choices[0].Message.Content)
	require.Equal(t, "length", *c.Choices[0].FinishReason)

	// The prompt is the chatml rendering, BOS first, as the tokenizer counts it.
	prompt := "<|im_start|>user\nTell me a story.<|im_end|>\n<|im_start|>assistant\n"
	require.Equal(t, len(s.m.Tokenizer().Encode(prompt, true, true)), c.Usage.PromptTokens)
	require.Equal(t, 12, c.Usage.CompletionTokens)
	require.Equal(t, c.Usage.PromptTokens+12, c.Usage.TotalTokens)

	// Content given as text parts is the same message; developer is system.
	parts := chatBody("", nil)
	parts["messages"] = []map[string]any{{"role": "user", "content": []map[string]any{{"type": "text", "text": "Tell me "}, {"type": "text", "text": "a story."}}}}
	parts["max_tokens"] = 12
	require.Equal(t, c.text(), s.complete(t, "/v1/chat/completions", parts).text())
}

func TestSameAnswerTwiceAtTemperatureZero(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 2, Context: 256})
	for _, path := range []string{"/v1/chat/completions", "/v1/completions"} {
		body := chatBody("Once upon a time", map[string]any{"max_tokens": 24})
		if path == "/v1/completions" {
			body = completionBody("Once upon a time", map[string]any{"max_tokens": 24})
		}
		first := s.complete(t, path, body)
		second := s.complete(t, path, body)
		require.Equal(t, first.text(), second.text(), path)
		require.Equal(t, first.Usage.CompletionTokens, second.Usage.CompletionTokens)
		// A seed makes sampling repeatable too.
		body["temperature"], body["seed"] = 1.0, 42
		require.Equal(t, s.complete(t, path, body).text(), s.complete(t, path, body).text(), path)
	}
}

func TestLegacyCompletion(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 2, Context: 256})
	c := s.complete(t, "/v1/completions", completionBody("Once upon a time", nil))
	require.True(t, strings.HasPrefix(c.ID, "cmpl-"), c.ID)
	require.Equal(t, "text_completion", c.Object)
	require.Equal(t, 16, c.Usage.CompletionTokens, "OpenAI's default max_tokens for this endpoint")
	require.Equal(t, "length", *c.Choices[0].FinishReason)
	require.Equal(t, len(s.m.Tokenizer().Encode("Once upon a time", true, true)), c.Usage.PromptTokens)

	// The same prompt as token ids, alone or in an array, and as an array of one string.
	ids := s.m.Tokenizer().Encode("Once upon a time", true, true)
	for _, prompt := range []any{ids, [][]int32{ids}, []string{"Once upon a time"}} {
		body := completionBody("", nil)
		body["prompt"] = prompt
		require.Equal(t, c.text(), s.complete(t, "/v1/completions", body).text(), "%v", prompt)
	}
}

func TestMaxTokensOne(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 2, Context: 256})
	for _, tc := range []struct {
		path string
		body map[string]any
	}{
		{"/v1/chat/completions", chatBody("Hi", map[string]any{"max_tokens": 1})},
		{"/v1/chat/completions", chatBody("Hi", map[string]any{"max_completion_tokens": 1})},
		{"/v1/completions", completionBody("Once upon a time", map[string]any{"max_tokens": 1})},
	} {
		c := s.complete(t, tc.path, tc.body)
		require.Equal(t, 1, c.Usage.CompletionTokens, tc.path)
		require.Equal(t, "length", *c.Choices[0].FinishReason)
		require.NotEmpty(t, c.text())
		chunks := s.stream(t, tc.path, tc.body)
		require.Equal(t, c.text(), streamedText(chunks))
	}
}

func TestStopSequences(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 2, Context: 256})
	full := s.complete(t, "/v1/completions", completionBody("Once upon a time", map[string]any{"max_tokens": 40})).text()
	// Stop at the second word of the answer: the text ends just before it.
	words := strings.Fields(full)
	require.Greater(t, len(words), 3, full)
	stop := words[2]
	want := full[:strings.Index(full, stop)]
	for _, stopValue := range []any{stop, []string{"no such text", stop}} {
		c := s.complete(t, "/v1/completions", completionBody("Once upon a time", map[string]any{"max_tokens": 40, "stop": stopValue}))
		require.Equal(t, want, c.text())
		require.Equal(t, "stop", *c.Choices[0].FinishReason)
		require.Less(t, c.Usage.CompletionTokens, 40)

		chunks := s.stream(t, "/v1/completions", completionBody("Once upon a time", map[string]any{"max_tokens": 40, "stop": stopValue}))
		require.Equal(t, want, streamedText(chunks))
		require.Equal(t, "stop", *chunks[len(chunks)-1].Choices[0].FinishReason)
	}
	// Chat too.
	fullChat := s.complete(t, "/v1/chat/completions", chatBody("Hi", map[string]any{"max_tokens": 40})).text()
	words = strings.Fields(fullChat)
	require.Greater(t, len(words), 3, fullChat)
	c := s.complete(t, "/v1/chat/completions", chatBody("Hi", map[string]any{"max_tokens": 40, "stop": []string{words[2]}}))
	require.Equal(t, fullChat[:strings.Index(fullChat, words[2])], c.text())
	require.Equal(t, "stop", *c.Choices[0].FinishReason)
}

// A full context ends generation with "length" too.
func TestFullContextIsLength(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 1, Context: 32})
	c := s.complete(t, "/v1/completions", completionBody("Once upon a time", map[string]any{"max_tokens": 100, "ignore_eos": true}))
	require.Equal(t, "length", *c.Choices[0].FinishReason)
	// The last token chosen is never put in the cache, so one more than fits.
	require.Equal(t, 32+1, c.Usage.TotalTokens)
}

func streamedText(chunks []completion) string {
	var b strings.Builder
	for _, c := range chunks {
		for _, ch := range c.Choices {
			switch {
			case ch.Text != nil:
				b.WriteString(*ch.Text)
			case ch.Delta != nil && ch.Delta.Content != nil:
				b.WriteString(*ch.Delta.Content)
			}
		}
	}
	return b.String()
}

func TestStreamingFormat(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 2, Context: 256})
	whole := s.complete(t, "/v1/chat/completions", chatBody("Tell me a story.", map[string]any{"max_tokens": 20}))

	chunks := s.stream(t, "/v1/chat/completions", chatBody("Tell me a story.", map[string]any{"max_tokens": 20,
		"stream_options": map[string]any{"include_usage": true}}))
	require.GreaterOrEqual(t, len(chunks), 4)
	first, last := chunks[0], chunks[len(chunks)-1]
	require.Equal(t, "assistant", *first.Choices[0].Delta.Role, "the first chunk names the role")
	id := first.ID
	for i, c := range chunks {
		require.Equal(t, id, c.ID, "one id for the whole stream")
		require.Equal(t, "chat.completion.chunk", c.Object)
		require.Equal(t, modelID, c.Model)
		if i < len(chunks)-1 {
			require.Len(t, c.Choices, 1)
			require.Nil(t, c.Usage, "usage only in the last chunk")
		}
		if i < len(chunks)-2 {
			require.Nil(t, c.Choices[0].FinishReason)
		}
	}
	require.Equal(t, "length", *chunks[len(chunks)-2].Choices[0].FinishReason)
	require.Empty(t, last.Choices, "the usage chunk has no choices")
	require.NotNil(t, last.Usage)
	require.Equal(t, whole.Usage.PromptTokens, last.Usage.PromptTokens)
	require.Equal(t, 20, last.Usage.CompletionTokens)
	require.Equal(t, whole.Usage.PromptTokens+20, last.Usage.TotalTokens)
	require.Equal(t, whole.text(), streamedText(chunks))

	// Without include_usage there is no usage chunk.
	chunks = s.stream(t, "/v1/completions", completionBody("Once upon a time", map[string]any{"max_tokens": 10}))
	for _, c := range chunks {
		require.Nil(t, c.Usage)
		require.Equal(t, "text_completion", c.Object)
		require.Len(t, c.Choices, 1)
	}
	require.Equal(t, "length", *chunks[len(chunks)-1].Choices[0].FinishReason)
	require.Equal(t, s.complete(t, "/v1/completions", completionBody("Once upon a time", map[string]any{"max_tokens": 10})).text(), streamedText(chunks))
}

// requireAPIError checks OpenAI's error shape: {"error": {"message", "type", "param", "code"}}.
func requireAPIError(t *testing.T, body []byte, typ, param, code string) {
	t.Helper()
	var e struct {
		Error map[string]any `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &e), "%s", body)
	require.NotNil(t, e.Error, "%s", body)
	for _, key := range []string{"message", "type", "param", "code"} {
		require.Contains(t, e.Error, key, "%s", body)
	}
	require.NotEmpty(t, e.Error["message"], "%s", body)
	require.Equal(t, typ, e.Error["type"], "%s", body)
	if param != "" {
		require.Equal(t, param, e.Error["param"], "%s", body)
	}
	if code != "" {
		require.Equal(t, code, e.Error["code"], "%s", body)
	}
}

func TestErrors(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 1, Context: 64})
	long := strings.Repeat("Once upon a time there was a cat. ", 40)
	for _, tc := range []struct {
		name, path, body string
		status           int
		param, code      string
	}{
		{"malformed JSON", "/v1/chat/completions", `{"messages": [`, 400, "", "invalid_json"},
		{"not an object", "/v1/completions", `[1, 2]`, 400, "", ""},
		{"two values", "/v1/completions", `{"prompt": "a"} {}`, 400, "", "invalid_json"},
		{"missing messages", "/v1/chat/completions", `{"model": "stories260K"}`, 400, "messages", ""},
		{"empty messages", "/v1/chat/completions", `{"messages": []}`, 400, "messages", ""},
		{"messages not an array", "/v1/chat/completions", `{"messages": "hi"}`, 400, "messages", ""},
		{"message without role", "/v1/chat/completions", `{"messages": [{"content": "hi"}]}`, 400, "messages[0].role", ""},
		{"unknown role", "/v1/chat/completions", `{"messages": [{"role": "robot", "content": "hi"}]}`, 400, "messages[0].role", ""},
		{"content a number", "/v1/chat/completions", `{"messages": [{"role": "user", "content": 3}]}`, 400, "messages[0].content", ""},
		{"image part", "/v1/chat/completions", `{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}`, 400, "messages[0].content[0]", ""},
		{"missing prompt", "/v1/completions", `{"model": "stories260K"}`, 400, "prompt", ""},
		{"prompt a number", "/v1/completions", `{"prompt": 3.5}`, 400, "prompt", ""},
		{"two prompts", "/v1/completions", `{"prompt": ["a", "b"]}`, 400, "prompt", ""},
		{"token outside the vocabulary", "/v1/completions", `{"prompt": [1, 99999]}`, 400, "prompt", ""},
		{"max_tokens a string", "/v1/completions", `{"prompt": "a", "max_tokens": "8"}`, 400, "max_tokens", ""},
		{"max_tokens 0", "/v1/completions", `{"prompt": "a", "max_tokens": 0}`, 400, "max_tokens", ""},
		{"max_completion_tokens negative", "/v1/chat/completions", `{"messages": [{"role": "user", "content": "a"}], "max_completion_tokens": -1}`, 400, "max_completion_tokens", ""},
		{"temperature a string", "/v1/completions", `{"prompt": "a", "temperature": "hot"}`, 400, "temperature", ""},
		{"temperature too high", "/v1/completions", `{"prompt": "a", "temperature": 3}`, 400, "temperature", ""},
		{"top_p above 1", "/v1/completions", `{"prompt": "a", "top_p": 1.5}`, 400, "top_p", ""},
		{"stop a number", "/v1/completions", `{"prompt": "a", "stop": 5}`, 400, "stop", ""},
		{"stream a string", "/v1/completions", `{"prompt": "a", "stream": "yes"}`, 400, "stream", ""},
		{"stream_options without stream", "/v1/completions", `{"prompt": "a", "stream_options": {"include_usage": true}}`, 400, "stream_options", ""},
		{"n above 16", "/v1/completions", `{"prompt": "a", "n": 17}`, 400, "n", ""},
		{"seed a string", "/v1/completions", `{"prompt": "a", "seed": "x"}`, 400, "seed", ""},
		{"prompt longer than the context", "/v1/completions", `{"prompt": "` + long + `"}`, 400, "prompt", "context_length_exceeded"},
		{"chat longer than the context", "/v1/chat/completions", `{"messages": [{"role": "user", "content": "` + long + `"}]}`, 400, "messages", "context_length_exceeded"},
		{"unknown model", "/v1/chat/completions", `{"model": "gpt-4o", "messages": [{"role": "user", "content": "a"}]}`, 404, "model", "model_not_found"},
		{"unknown model, legacy", "/v1/completions", `{"model": "gpt-3.5-turbo-instruct", "prompt": "a"}`, 404, "model", "model_not_found"},
		{"unknown endpoint", "/v1/embeddings", `{"input": "a"}`, 404, "", "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, h, out := s.post(t, tc.path, tc.body)
			require.Equal(t, tc.status, status, "%s", out)
			require.Equal(t, "application/json", h.Get("Content-Type"))
			requireAPIError(t, out, "invalid_request_error", tc.param, tc.code)
			// Streaming requests are refused the same way, before any event.
			if tc.status == 400 && strings.HasPrefix(tc.body, "{") && !strings.Contains(tc.body, `"stream`) && json.Valid([]byte(tc.body)) {
				streamBody := strings.Replace(tc.body, "{", `{"stream": true, `, 1)
				status, _, out := s.post(t, tc.path, streamBody)
				require.Equal(t, tc.status, status, "%s", out)
			}
		})
	}
	t.Run("wrong method", func(t *testing.T) {
		status, h, out := s.get(t, "/v1/chat/completions")
		require.Equal(t, http.StatusMethodNotAllowed, status)
		require.Contains(t, h.Get("Allow"), "POST")
		requireAPIError(t, out, "invalid_request_error", "", "method_not_allowed")
	})
	// Nothing above reached the scheduler.
	require.Zero(t, s.sched.Metrics().Requests)
}

func TestChatWithoutTemplate(t *testing.T) {
	s := startServerWith(t, loadStories(t), engine.SchedulerOptions{Parallel: 1, Context: 64}, Options{ModelID: modelID})
	status, _, out := s.post(t, "/v1/chat/completions", chatBody("Hi", nil))
	require.Equal(t, http.StatusBadRequest, status)
	requireAPIError(t, out, "invalid_request_error", "messages", "")
	require.Contains(t, string(out), "--chat-template")
}

// A client that goes away mid-stream frees its sequence at once, and the
// next request is served.
func TestAbortedStreamThenGoodRequest(t *testing.T) {
	// A long context, so that a request nobody stops runs for seconds.
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 1, Context: 2048})
	want := s.complete(t, "/v1/completions", completionBody("Lily and Tom", map[string]any{"max_tokens": 12})).text()
	long := completionBody("Once upon a time", map[string]any{"ignore_eos": true})
	long["max_tokens"] = 32000 // far more than the checks below take

	for _, stream := range []bool{true, false} {
		before := s.sched.Metrics().GeneratedTokens
		ctx, cancel := context.WithCancel(context.Background())
		long["stream"] = stream
		raw, _ := json.Marshal(long)
		req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/v1/completions", strings.NewReader(string(raw)))
		req.Header.Set("Content-Type", "application/json")
		firstChunk := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return // the non-streaming request, cancelled before its answer
			}
			defer resp.Body.Close()
			sc := sseLines(resp.Body)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "data: {") {
					close(firstChunk)
					<-ctx.Done() // then hang up
					return
				}
			}
		}()
		if stream {
			<-firstChunk
			require.Equal(t, 1, s.sched.Metrics().Active)
		} else {
			require.Eventually(t, func() bool { return s.sched.Metrics().Active == 1 }, 5*time.Second, time.Millisecond)
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		<-done
		require.Eventually(t, func() bool { return s.sched.Metrics().Active == 0 }, 2*time.Second, time.Millisecond,
			"the sequence is freed when the client goes (stream %v)", stream)
		require.Less(t, s.sched.Metrics().GeneratedTokens-before, int64(2000), "generation stopped early")

		c := s.complete(t, "/v1/completions", completionBody("Lily and Tom", map[string]any{"max_tokens": 12}))
		require.Equal(t, want, c.text())
	}
}

// With every sequence busy and the queue full, a request gets 503 and Retry-After.
func TestQueueFullIs503WithRetryAfter(t *testing.T) {
	// A long context, so that the running request holds its sequence for
	// many seconds however fast the backend and however loaded the machine:
	// the checks below take milliseconds.
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 1, Context: 32768, Queue: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	long := completionBody("Once upon a time", map[string]any{"ignore_eos": true})
	long["max_tokens"] = 32000 // far more than the checks below take
	raw, _ := json.Marshal(long)
	finished := make(chan struct{}, 2)
	for range 2 { // one generating, one waiting
		go func() {
			defer func() { finished <- struct{}{} }()
			req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/v1/completions", strings.NewReader(string(raw)))
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	require.Eventually(t, func() bool {
		m := s.sched.Metrics()
		return m.Active == 1 && m.QueueDepth == 1
	}, 30*time.Second, time.Millisecond)

	for _, body := range []map[string]any{completionBody("Hi", nil), chatBody("Hi", map[string]any{"stream": true})} {
		path := "/v1/completions"
		if _, ok := body["messages"]; ok {
			path = "/v1/chat/completions"
		}
		status, h, out := s.post(t, path, body)
		require.Equal(t, http.StatusServiceUnavailable, status, "%s", out)
		require.Equal(t, "1", h.Get("Retry-After"))
		requireAPIError(t, out, "server_error", "", "queue_full")
	}
	_, _, metrics := s.get(t, "/metrics")
	require.Contains(t, string(metrics), "\nconveyor_requests_rejected_total 2\n")
	require.Contains(t, string(metrics), "\nconveyor_queue_depth 1\n")
	require.Contains(t, string(metrics), "\nconveyor_active_sequences 1\n")
	cancel()
	<-finished
	<-finished
}

// Tools reach the chat template as the client gave them, key order kept.
func TestToolsReachTheTemplate(t *testing.T) {
	m := loadStories(t)
	tmpl := `{% for tool in tools %}{{ tool | tojson }}{% endfor %}{% for m in messages %}{{ m.role }}: {{ m.content }}
{% endfor %}assistant:`
	s := startServerWith(t, m, engine.SchedulerOptions{Parallel: 1, Context: 256}, Options{ModelID: modelID, ChatTemplate: tmpl})
	tool := `{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}`
	body := `{"messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "max_tokens": 8, "temperature": 0, "tools": [` + tool + `]}`
	c := s.complete(t, "/v1/chat/completions", body)
	// The same prompt given as text answers the same.
	want := tool + "system: Be brief.\nuser: Hi\nassistant:"
	require.Equal(t, len(m.Tokenizer().Encode(want, true, true)), c.Usage.PromptTokens)
	require.Equal(t, s.complete(t, "/v1/completions", completionBody(want, map[string]any{"max_tokens": 8})).text(), c.text())
}
