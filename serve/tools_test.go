package serve

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/chat"
	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/toolcall"
)

const weatherTool = `{"type": "function", "function": {"name": "get_weather", "description": "The weather in a city",
	"parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}, "days": {"type": "integer", "minimum": 1, "maximum": 7}}, "required": ["city", "unit", "days"]}}}`

const timeTool = `{"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"tz": {"type": "string", "enum": ["UTC", "CET"]}}, "required": ["tz"]}}}`

// startQwen3 serves the stories model with Qwen 3's chat template (Hermes
// tool calls, <think> reasoning).
func startQwen3(t *testing.T) *server {
	t.Helper()
	m := loadStories(t)
	return startServerWith(t, m, engine.SchedulerOptions{Parallel: 2, Context: 2048}, Options{ModelID: ModelID(storiesPath(t)), ChatTemplate: qwen3Template(t)})
}

func qwen3Template(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CONVEYOR_TESTDATA")
	if dir == "" {
		dir = "../../shared"
	}
	tmpl, err := os.ReadFile(filepath.Join(dir, "chat-templates", "templates", "Qwen-Qwen3-0.6B.jinja"))
	if err != nil {
		t.Skipf("no Qwen 3 template: %v", err)
	}
	return string(tmpl)
}

type toolCallOut struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type chatOut struct {
	Choices []struct {
		Message struct {
			Content          *string       `json:"content"`
			ReasoningContent string        `json:"reasoning_content"`
			ToolCalls        []toolCallOut `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
}

func checkWeatherArgs(t *testing.T, args string) {
	t.Helper()
	var v struct {
		City *string `json:"city"`
		Unit *string `json:"unit"`
		Days *int    `json:"days"`
	}
	dec := json.NewDecoder(strings.NewReader(args))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&v), args)
	require.NotNil(t, v.City, args)
	require.LessOrEqual(t, len([]rune(*v.City)), 12, args)
	require.Contains(t, []string{"celsius", "fahrenheit"}, *v.Unit, args)
	require.True(t, *v.Days >= 1 && *v.Days <= 7, args)
}

// streamed reads a chat stream's deltas back into one message, as the openai
// client's accumulation does.
func streamed(t *testing.T, body []byte) (content, reasoning string, calls []toolCallOut, reason string) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || line == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct {
				Delta struct {
					Content          string `json:"content"`
					ReasoningContent string `json:"reasoning_content"`
					ToolCalls        []struct {
						Index int `json:"index"`
						toolCallOut
					} `json:"tool_calls"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &c), line)
		for _, ch := range c.Choices {
			content += ch.Delta.Content
			reasoning += ch.Delta.ReasoningContent
			for _, tc := range ch.Delta.ToolCalls {
				if tc.Index == len(calls) {
					require.NotEmpty(t, tc.ID, "the first delta of a call has its id")
					require.Equal(t, "function", tc.Type)
					calls = append(calls, tc.toolCallOut)
					continue
				}
				calls[tc.Index].Function.Arguments += tc.Function.Arguments
			}
			if ch.FinishReason != nil {
				reason = *ch.FinishReason
			}
		}
	}
	return
}

// With tool_choice required or naming the function, every answer of the
// random-ish stories model is a call whose arguments fit the schema,
// streamed and not.
func TestToolChoiceRequiredValidates(t *testing.T) {
	s := startQwen3(t)
	for _, choice := range []string{`"required"`, `{"type": "function", "function": {"name": "get_weather"}}`} {
		for seed := range 3 {
			for _, stream := range []bool{false, true} {
				body := fmt.Sprintf(`{"messages": [{"role": "user", "content": "Weather in Paris?"}], "tools": [%s], "tool_choice": %s,
					"parallel_tool_calls": false, "temperature": 1, "seed": %d, "max_tokens": 300, "stream": %v}`, weatherTool, choice, seed, stream)
				status, _, out := s.post(t, "/v1/chat/completions", body)
				require.Equal(t, http.StatusOK, status, string(out))
				var calls []toolCallOut
				var reason string
				if stream {
					_, _, calls, reason = streamed(t, out)
				} else {
					var r chatOut
					require.NoError(t, json.Unmarshal(out, &r))
					calls, reason = r.Choices[0].Message.ToolCalls, r.Choices[0].FinishReason
					require.Nil(t, r.Choices[0].Message.Content, string(out))
				}
				require.Equal(t, "tool_calls", reason, string(out))
				require.Len(t, calls, 1, string(out))
				require.True(t, strings.HasPrefix(calls[0].ID, "call_"), calls[0].ID)
				require.Equal(t, "get_weather", calls[0].Function.Name)
				checkWeatherArgs(t, calls[0].Function.Arguments)
			}
		}
	}
}

// Parallel calls (required, two tools) each validate, and a conversation
// with the calls and their results goes back through the template.
func TestParallelToolCallsRoundTrip(t *testing.T) {
	s := startQwen3(t)
	var calls []toolCallOut
	for seed := 0; seed < 20 && len(calls) < 2; seed++ {
		body := fmt.Sprintf(`{"messages": [{"role": "user", "content": "Weather and time?"}], "tools": [%s, %s], "tool_choice": "required",
			"temperature": 1, "seed": %d, "max_tokens": 600}`, weatherTool, timeTool, seed)
		status, _, out := s.post(t, "/v1/chat/completions", body)
		require.Equal(t, http.StatusOK, status, string(out))
		var r chatOut
		require.NoError(t, json.Unmarshal(out, &r))
		if r.Choices[0].FinishReason == "length" {
			continue
		}
		require.Equal(t, "tool_calls", r.Choices[0].FinishReason, string(out))
		calls = r.Choices[0].Message.ToolCalls
		for _, c := range calls {
			if c.Function.Name == "get_weather" {
				checkWeatherArgs(t, c.Function.Arguments)
			} else {
				require.Equal(t, "get_time", c.Function.Name)
				require.Contains(t, []string{`{"tz":"UTC"}`, `{"tz":"CET"}`}, strings.ReplaceAll(c.Function.Arguments, " ", ""))
			}
		}
	}
	require.GreaterOrEqual(t, len(calls), 2, "no seed gave parallel calls")
	msgs := []any{map[string]any{"role": "user", "content": "Weather and time?"},
		map[string]any{"role": "assistant", "content": nil, "tool_calls": calls}}
	for i, c := range calls {
		msgs = append(msgs, map[string]any{"role": "tool", "tool_call_id": c.ID, "content": fmt.Sprintf("result %d", i)})
	}
	body, _ := json.Marshal(map[string]any{"messages": msgs, "tools": []json.RawMessage{json.RawMessage(weatherTool), json.RawMessage(timeTool)}, "max_tokens": 1})
	status, _, out := s.post(t, "/v1/chat/completions", string(body))
	require.Equal(t, http.StatusOK, status, string(out))
	text, err := New(s.m, s.sched, Options{ChatTemplate: qwen3Template(t)}).renderChat(t.Context(), mustMessages(t, body), nil, nil)
	require.NoError(t, err)
	for i, c := range calls {
		require.Contains(t, text, `<tool_call>`+"\n"+`{"name": "`+c.Function.Name+`", "arguments": `)
		require.Contains(t, text, fmt.Sprintf("<tool_response>\nresult %d\n</tool_response>", i))
	}
}

func mustMessages(t *testing.T, body []byte) []map[string]any {
	var req chatRequest
	require.NoError(t, json.Unmarshal(body, &req))
	msgs, err := chatMessages(req.Messages)
	require.Nil(t, err)
	toolMessages(msgs)
	return msgs
}

// tool_choice errors are 400s naming the field.
func TestToolChoiceErrors(t *testing.T) {
	s := startQwen3(t)
	for _, tc := range []struct{ body, param string }{
		{`"tool_choice": "required"`, "tool_choice"},
		{`"tools": [` + weatherTool + `], "tool_choice": {"type": "function", "function": {"name": "nope"}}`, "tool_choice"},
		{`"tools": [` + weatherTool + `], "tool_choice": "sometimes"`, "tool_choice"},
		{`"tools": [{"type": "function"}]`, "tools[0]"},
		{`"tools": [` + weatherTool + `], "tool_choice": "required", "response_format": {"type": "json_object"}`, "tool_choice"},
		{`"reasoning_format": "xml"`, "reasoning_format"},
	} {
		status, _, out := s.post(t, "/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], `+tc.body+`}`)
		require.Equal(t, http.StatusBadRequest, status, string(out))
		require.Contains(t, string(out), `"param":"`+tc.param+`"`, string(out))
	}
}

// A <think> block comes back as reasoning_content, streamed and not;
// reasoning_format none keeps it in the content. (A grammar makes the
// stories model write it.)
func TestReasoningContent(t *testing.T) {
	s := startQwen3(t)
	for _, stream := range []bool{false, true} {
		for _, format := range []string{"auto", "none"} {
			body := fmt.Sprintf(`{"messages": [{"role": "user", "content": "hi"}], "grammar": "root ::= \"<think>\\nLet me think.\\n</think>\\n\\nHello!\"",
				"reasoning_format": %q, "stream": %v, "max_tokens": 100}`, format, stream)
			status, _, out := s.post(t, "/v1/chat/completions", body)
			require.Equal(t, http.StatusOK, status, string(out))
			var content, reasoning string
			if stream {
				content, reasoning, _, _ = streamed(t, out)
			} else {
				var r chatOut
				require.NoError(t, json.Unmarshal(out, &r))
				content, reasoning = *r.Choices[0].Message.Content, r.Choices[0].Message.ReasoningContent
			}
			if format == "none" {
				require.Equal(t, "<think>\nLet me think.\n</think>\n\nHello!", content)
				require.Empty(t, reasoning)
			} else {
				require.Equal(t, "Hello!", content)
				require.Equal(t, "Let me think.", reasoning)
			}
		}
	}
}

// The builtin chatml renders tools as Qwen and Hermes do, so its answers
// are read as Hermes <tool_call> tags: with tool_choice required the
// stories model's answer is a call that fits the schema, and the call and
// its result go back through the template as <tool_call> and
// <tool_response> blocks after the listed tools.
func TestChatMLToolCallsAreHermes(t *testing.T) {
	chatml, err := chat.Builtin("chatml")
	require.NoError(t, err)
	require.Equal(t, toolcall.Hermes, toolcall.Detect(chatml))
	s := startServerWith(t, loadStories(t), engine.SchedulerOptions{Parallel: 1, Context: 2048},
		Options{ModelID: ModelID(storiesPath(t)), ChatTemplate: chatml})
	body := fmt.Sprintf(`{"messages": [{"role": "user", "content": "Weather in Paris?"}], "tools": [%s], "tool_choice": "required",
		"parallel_tool_calls": false, "temperature": 1, "seed": 1, "max_tokens": 300}`, weatherTool)
	status, _, out := s.post(t, "/v1/chat/completions", body)
	require.Equal(t, http.StatusOK, status, string(out))
	var r chatOut
	require.NoError(t, json.Unmarshal(out, &r))
	require.Equal(t, "tool_calls", r.Choices[0].FinishReason, string(out))
	calls := r.Choices[0].Message.ToolCalls
	require.Len(t, calls, 1, string(out))
	checkWeatherArgs(t, calls[0].Function.Arguments)

	back, _ := json.Marshal(map[string]any{"messages": []any{
		map[string]any{"role": "user", "content": "Weather in Paris?"},
		map[string]any{"role": "assistant", "content": nil, "tool_calls": calls},
		map[string]any{"role": "tool", "tool_call_id": calls[0].ID, "content": "sunny"}},
		"tools": []json.RawMessage{json.RawMessage(weatherTool)}, "max_tokens": 1})
	status, _, out = s.post(t, "/v1/chat/completions", string(back))
	require.Equal(t, http.StatusOK, status, string(out))
	text, err := New(s.m, s.sched, Options{ChatTemplate: chatml}).renderChat(t.Context(), mustMessages(t, back),
		[]any{json.RawMessage(weatherTool)}, nil)
	require.NoError(t, err)
	require.Contains(t, text, "<tools>\n")
	require.Contains(t, text, "<|im_start|>assistant\n<tool_call>\n"+`{"name": "get_weather", "arguments": `)
	require.Contains(t, text, "<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>\n")
}
