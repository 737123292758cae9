package serve

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/engine"
)

type anthropicMessage struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Role    string `json:"role"`
	Model   string `json:"model"`
	Content []struct {
		Type  string          `json:"type"`
		Text  string          `json:"text"`
		ID    string          `json:"id"`
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	} `json:"content"`
	StopReason   string  `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
	Usage        struct {
		InputTokens  int `json:"input_tokens"`
		OutputTokens int `json:"output_tokens"`
	} `json:"usage"`
}

func (s *server) messages(t *testing.T, body string) anthropicMessage {
	t.Helper()
	status, _, out := s.post(t, "/v1/messages", body)
	require.Equal(t, http.StatusOK, status, string(out))
	var m anthropicMessage
	require.NoError(t, json.Unmarshal(out, &m), string(out))
	require.True(t, strings.HasPrefix(m.ID, "msg_"), m.ID)
	require.Equal(t, "message", m.Type)
	require.Equal(t, "assistant", m.Role)
	return m
}

// A plain text answer equals the chat completion of the same conversation;
// a system prompt and several turns reach the template as chat's do.
func TestAnthropicMessagesText(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 2, Context: 512})
	m := s.messages(t, `{"model": "stories260K", "max_tokens": 20, "temperature": 0, "messages": [{"role": "user", "content": "Once upon a time"}]}`)
	c := s.complete(t, "/v1/chat/completions", map[string]any{"max_tokens": 20, "temperature": 0, "top_k": 0,
		"messages": []any{map[string]any{"role": "user", "content": "Once upon a time"}}})
	require.Len(t, m.Content, 1)
	require.Equal(t, "text", m.Content[0].Type)
	require.Equal(t, c.text(), m.Content[0].Text)
	require.Equal(t, "max_tokens", m.StopReason)
	require.Nil(t, m.StopSequence)
	require.Equal(t, 20, m.Usage.OutputTokens)
	require.Equal(t, c.Usage.PromptTokens, m.Usage.InputTokens)

	// system as text blocks, user content as blocks, several turns.
	m = s.messages(t, `{"max_tokens": 20, "temperature": 0, "system": [{"type": "text", "text": "You tell "}, {"type": "text", "text": "stories."}],
		"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}, {"role": "assistant", "content": "Hello there."},
			{"role": "user", "content": "Once upon a time"}]}`)
	c = s.complete(t, "/v1/chat/completions", map[string]any{"max_tokens": 20, "temperature": 0, "top_k": 0, "messages": []any{
		map[string]any{"role": "system", "content": "You tell stories."}, map[string]any{"role": "user", "content": "Hi"},
		map[string]any{"role": "assistant", "content": "Hello there."}, map[string]any{"role": "user", "content": "Once upon a time"}}})
	require.Equal(t, c.text(), m.Content[0].Text)
	require.Equal(t, c.Usage.PromptTokens, m.Usage.InputTokens)

	// A stop sequence is named.
	text := m.Content[0].Text
	require.Greater(t, len(text), 4)
	stop := text[2:4]
	m = s.messages(t, fmt.Sprintf(`{"max_tokens": 20, "temperature": 0, "stop_sequences": ["zzzz", %q], "system": "You tell stories.",
		"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there."}, {"role": "user", "content": "Once upon a time"}]}`, stop))
	require.Equal(t, "stop_sequence", m.StopReason)
	require.NotNil(t, m.StopSequence)
	require.Equal(t, stop, *m.StopSequence)
	require.Equal(t, text[:2], m.Content[0].Text)
}

// Errors come in Anthropic's shape; x-api-key is a key.
func TestAnthropicErrorsAndAPIKey(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 1, Context: 256})
	for _, c := range []struct{ name, body string }{
		{"no max_tokens", `{"messages": [{"role": "user", "content": "a"}]}`},
		{"bad role", `{"max_tokens": 5, "messages": [{"role": "system", "content": "a"}]}`},
		{"no messages", `{"max_tokens": 5, "messages": []}`},
		{"bad tool_choice", `{"max_tokens": 5, "messages": [{"role": "user", "content": "a"}], "tool_choice": {"type": "sometimes"}}`},
		{"image block", `{"max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]}`},
		{"not json", `{`},
	} {
		status, _, out := s.post(t, "/v1/messages", c.body)
		require.Equal(t, http.StatusBadRequest, status, c.name)
		var e struct {
			Type  string `json:"type"`
			Error struct{ Type, Message string }
		}
		require.NoError(t, json.Unmarshal(out, &e), string(out))
		require.Equal(t, "error", e.Type, string(out))
		require.Equal(t, "invalid_request_error", e.Error.Type, string(out))
		require.NotEmpty(t, e.Error.Message)
	}
	status, _, out := s.post(t, "/v1/messages", `{"model": "other", "max_tokens": 5, "messages": [{"role": "user", "content": "a"}]}`)
	require.Equal(t, http.StatusNotFound, status)
	require.Contains(t, string(out), `"not_found_error"`)

	m := s.m
	k := startServerWith(t, m, engine.SchedulerOptions{Parallel: 1, Context: 256}, Options{ChatTemplate: "{{ messages[0].content }}", APIKeys: []string{"sekrit"}})
	req := func(key string) (int, string) {
		r, err := http.NewRequest("POST", k.URL+"/v1/messages", strings.NewReader(`{"max_tokens": 2, "messages": [{"role": "user", "content": "a"}]}`))
		require.NoError(t, err)
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("anthropic-version", "2023-06-01")
		if key != "" {
			r.Header.Set("x-api-key", key)
		}
		resp, err := http.DefaultClient.Do(r)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := req("")
	require.Equal(t, http.StatusUnauthorized, status)
	require.Contains(t, body, `"authentication_error"`)
	status, _ = req("wrong")
	require.Equal(t, http.StatusUnauthorized, status)
	status, body = req("sekrit")
	require.Equal(t, http.StatusOK, status, body)
}

type anthropicEvent struct {
	name string
	data map[string]any
}

func anthropicEvents(t *testing.T, body []byte) []anthropicEvent {
	t.Helper()
	var evs []anthropicEvent
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	var name string
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "event: "); ok {
			name = n
			continue
		}
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			var v map[string]any
			require.NoError(t, json.Unmarshal([]byte(d), &v), d)
			require.Equal(t, name, v["type"], "the event's name is its data's type")
			evs = append(evs, anthropicEvent{name, v})
		}
	}
	return evs
}

// streamedMessage checks a stream's event sequence and reads it back into
// the message it stands for.
func streamedMessage(t *testing.T, evs []anthropicEvent) anthropicMessage {
	t.Helper()
	require.GreaterOrEqual(t, len(evs), 5)
	require.Equal(t, "message_start", evs[0].name)
	require.Equal(t, "message_delta", evs[len(evs)-2].name)
	require.Equal(t, "message_stop", evs[len(evs)-1].name)
	var m anthropicMessage
	msg := evs[0].data["message"].(map[string]any)
	m.ID, m.Type, m.Role = msg["id"].(string), msg["type"].(string), msg["role"].(string)
	m.Usage.InputTokens = int(msg["usage"].(map[string]any)["input_tokens"].(float64))
	open := -1
	var args []string
	for _, e := range evs[1 : len(evs)-2] {
		switch e.name {
		case "content_block_start":
			require.Equal(t, -1, open, "a block starts after the last one stopped")
			open = int(e.data["index"].(float64))
			require.Equal(t, len(m.Content), open)
			cb := e.data["content_block"].(map[string]any)
			m.Content = append(m.Content, struct {
				Type  string          `json:"type"`
				Text  string          `json:"text"`
				ID    string          `json:"id"`
				Name  string          `json:"name"`
				Input json.RawMessage `json:"input"`
			}{Type: cb["type"].(string)})
			args = append(args, "")
			if cb["type"] == "tool_use" {
				m.Content[open].ID, m.Content[open].Name = cb["id"].(string), cb["name"].(string)
			}
		case "content_block_delta":
			require.Equal(t, open, int(e.data["index"].(float64)))
			d := e.data["delta"].(map[string]any)
			switch d["type"] {
			case "text_delta":
				m.Content[open].Text += d["text"].(string)
			case "input_json_delta":
				args[open] += d["partial_json"].(string)
			case "thinking_delta":
			default:
				t.Fatalf("unknown delta %v", d)
			}
		case "content_block_stop":
			require.Equal(t, open, int(e.data["index"].(float64)))
			if m.Content[open].Type == "tool_use" {
				m.Content[open].Input = json.RawMessage(args[open])
			}
			open = -1
		case "ping":
		default:
			t.Fatalf("unexpected event %q", e.name)
		}
	}
	require.Equal(t, -1, open)
	d := evs[len(evs)-2].data
	m.StopReason = d["delta"].(map[string]any)["stop_reason"].(string)
	m.Usage.OutputTokens = int(d["usage"].(map[string]any)["output_tokens"].(float64))
	return m
}

// Streamed, the events are Anthropic's and add up to the whole answer.
func TestAnthropicMessagesStream(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 2, Context: 512})
	body := `{"max_tokens": 20, "temperature": 0, "system": "You tell stories.", "messages": [{"role": "user", "content": "Once upon a time"}]%s}`
	whole := s.messages(t, fmt.Sprintf(body, ""))
	status, h, out := s.post(t, "/v1/messages", fmt.Sprintf(body, `, "stream": true`))
	require.Equal(t, http.StatusOK, status, string(out))
	require.Equal(t, "text/event-stream", h.Get("Content-Type"))
	evs := anthropicEvents(t, out)
	m := streamedMessage(t, evs)
	require.Equal(t, "content_block_start", evs[1].name)
	require.Len(t, m.Content, 1)
	require.Equal(t, whole.Content[0].Text, m.Content[0].Text)
	require.Equal(t, whole.StopReason, m.StopReason)
	require.Equal(t, whole.Usage, m.Usage)
}

const anthropicWeatherTool = `{"name": "get_weather", "description": "The weather in a city",
	"input_schema": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}, "days": {"type": "integer", "minimum": 1, "maximum": 7}}, "required": ["city", "unit", "days"]}}`

// With tool_choice any (or the tool named), every answer is a tool_use
// block whose input validates against input_schema, streamed and not; the
// call and its tool_result go back through the template.
func TestAnthropicToolUse(t *testing.T) {
	s := startQwen3(t)
	var last anthropicMessage
	for _, choice := range []string{`{"type": "any", "disable_parallel_tool_use": true}`, `{"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true}`} {
		for seed := range 2 {
			for _, stream := range []bool{false, true} {
				body := fmt.Sprintf(`{"max_tokens": 300, "temperature": 1, "seed": %d, "stream": %v, "tools": [%s], "tool_choice": %s,
					"messages": [{"role": "user", "content": "Weather in Paris?"}]}`, seed, stream, anthropicWeatherTool, choice)
				var m anthropicMessage
				if stream {
					status, _, out := s.post(t, "/v1/messages", body)
					require.Equal(t, http.StatusOK, status, string(out))
					m = streamedMessage(t, anthropicEvents(t, out))
				} else {
					m = s.messages(t, body)
				}
				require.Equal(t, "tool_use", m.StopReason)
				var uses int
				for _, c := range m.Content {
					if c.Type == "tool_use" {
						uses++
						require.True(t, strings.HasPrefix(c.ID, "toolu_"), c.ID)
						require.Equal(t, "get_weather", c.Name)
						checkWeatherArgs(t, string(c.Input))
					}
				}
				require.Equal(t, 1, uses, "%+v", m)
				last = m
			}
		}
	}

	// The round trip: the assistant's tool_use and the user's tool_result.
	var use struct {
		ID    string
		Input json.RawMessage
	}
	for _, c := range last.Content {
		if c.Type == "tool_use" {
			use.ID, use.Input = c.ID, c.Input
		}
	}
	body := fmt.Sprintf(`{"max_tokens": 1, "tools": [%s], "messages": [{"role": "user", "content": "Weather in Paris?"},
		{"role": "assistant", "content": [{"type": "text", "text": "Let me look."}, {"type": "tool_use", "id": %q, "name": "get_weather", "input": %s}]},
		{"role": "user", "content": [{"type": "tool_result", "tool_use_id": %q, "content": [{"type": "text", "text": "sunny, 21 C"}]}]}]}`,
		anthropicWeatherTool, use.ID, use.Input, use.ID)
	m := s.messages(t, body)
	var a anthropicRequest
	require.NoError(t, json.Unmarshal([]byte(body), &a))
	c, rerr := a.toChat()
	require.Nil(t, rerr)
	msgs, rerr := chatMessages(c.Messages)
	require.Nil(t, rerr)
	toolMessages(msgs)
	var tools []any
	for _, t := range c.Tools {
		tools = append(tools, t)
	}
	text, err := New(s.m, s.sched, Options{ChatTemplate: qwen3Template(t)}).renderChat(t.Context(), msgs, tools, nil)
	require.NoError(t, err)
	require.Contains(t, text, `<tool_call>`+"\n"+`{"name": "get_weather", "arguments": `)
	require.Contains(t, text, "<tool_response>\nsunny, 21 C\n</tool_response>")
	require.Contains(t, text, `"description": "The weather in a city", "name": "get_weather"`)
	require.Equal(t, len(s.m.Tokenizer().Encode(text, true, true)), m.Usage.InputTokens)
}
