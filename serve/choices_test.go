package serve

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/engine"
)

// streamedChoices reads a stream's text per choice index, its finish reasons
// and its usage.
func streamedChoices(t *testing.T, body []byte) (texts map[int]string, reasons map[int]string, u *usageJSON) {
	t.Helper()
	texts, reasons = map[int]string{}, map[int]string{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || line == "[DONE]" {
			continue
		}
		var c completion
		require.NoError(t, json.Unmarshal([]byte(line), &c), line)
		for _, ch := range c.Choices {
			switch {
			case ch.Text != nil:
				texts[ch.Index] += *ch.Text
			case ch.Delta != nil && ch.Delta.Content != nil:
				texts[ch.Index] += *ch.Delta.Content
			}
			if ch.FinishReason != nil {
				reasons[ch.Index] = *ch.FinishReason
			}
		}
		if c.Usage != nil {
			u = c.Usage
		}
	}
	return
}

// n = 3 gives three answers, each the same request's answer alone with
// seed, seed+1 and seed+2, streamed and not, on both endpoints; usage counts
// the prompt once and every choice's tokens.
func TestChoicesEqualSeededRequestsAlone(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 4, Context: 256})
	for _, path := range []string{"/v1/chat/completions", "/v1/completions"} {
		body := func(n int, seed int, stream bool) map[string]any {
			b := map[string]any{"temperature": 1, "seed": seed, "max_tokens": 24, "n": n, "stream": stream}
			if stream {
				b["stream_options"] = map[string]any{"include_usage": true}
			}
			if path == "/v1/completions" {
				b["prompt"] = "Once upon a time"
			} else {
				b["messages"] = []any{map[string]any{"role": "user", "content": "Tell me a story"}}
			}
			return b
		}
		var alone []string
		completionTokens := 0
		for i := range 3 {
			c := s.complete(t, path, body(1, 7+i, false))
			alone = append(alone, c.text())
			completionTokens += c.Usage.CompletionTokens
		}
		require.False(t, alone[0] == alone[1] && alone[1] == alone[2], "the seeds should give different answers: %q", alone)

		status, _, out := s.post(t, path, body(3, 7, false))
		require.Equal(t, http.StatusOK, status, string(out))
		var c completion
		require.NoError(t, json.Unmarshal(out, &c))
		require.Len(t, c.Choices, 3)
		for i, ch := range c.Choices {
			require.Equal(t, i, ch.Index)
			text := ""
			if ch.Message != nil {
				text = ch.Message.Content
			} else {
				text = *ch.Text
			}
			require.Equal(t, alone[i], text, "%s choice %d", path, i)
		}
		require.Equal(t, completionTokens, c.Usage.CompletionTokens)
		require.Equal(t, c.Usage.PromptTokens+completionTokens, c.Usage.TotalTokens)

		status, _, out = s.post(t, path, body(3, 7, true))
		require.Equal(t, http.StatusOK, status, string(out))
		texts, reasons, u := streamedChoices(t, out)
		for i := range 3 {
			require.Equal(t, alone[i], texts[i], "%s streamed choice %d", path, i)
			require.NotEmpty(t, reasons[i])
		}
		require.NotNil(t, u)
		require.Equal(t, completionTokens, u.CompletionTokens)
	}
}

// echo puts the prompt before the completion, streamed and not; with
// logprobs it is refused, as the prompt's logprobs are not computed.
func TestEchoCompletion(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 2, Context: 256})
	plain := s.complete(t, "/v1/completions", map[string]any{"prompt": "Once upon a time", "temperature": 0, "max_tokens": 12}).text()
	for _, prompt := range []any{"Once upon a time", s.m.Tokenizer().Encode("Once upon a time", true, true)} {
		c := s.complete(t, "/v1/completions", map[string]any{"prompt": prompt, "temperature": 0, "max_tokens": 12, "echo": true})
		require.Equal(t, "Once upon a time"+plain, c.text())
	}
	status, _, out := s.post(t, "/v1/completions", map[string]any{"prompt": "Once upon a time", "temperature": 0, "max_tokens": 12, "echo": true, "stream": true, "n": 2})
	require.Equal(t, http.StatusOK, status, string(out))
	texts, _, _ := streamedChoices(t, out)
	require.Equal(t, map[int]string{0: "Once upon a time" + plain, 1: "Once upon a time" + plain}, texts)

	status, _, out = s.post(t, "/v1/completions", map[string]any{"prompt": "a", "echo": true, "logprobs": 2})
	require.Equal(t, http.StatusBadRequest, status)
	requireAPIError(t, out, "invalid_request_error", "echo", "")
}
