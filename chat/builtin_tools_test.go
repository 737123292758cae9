package chat

import (
	"encoding/json"
	"os"
	"testing"
)

// referenceRenderings are jinja2's renderings of testdata/conversations.json
// (gen_conversations.py) by template and conversation.
func referenceRenderings(t *testing.T) (map[string]json.RawMessage, map[[2]string]string) {
	t.Helper()
	data, err := os.ReadFile("testdata/conversations.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Conversations map[string]json.RawMessage `json:"conversations"`
		Expected      []struct {
			Template     string  `json:"template"`
			Conversation string  `json:"conversation"`
			Rendered     *string `json:"rendered"`
		} `json:"expected"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	out := map[[2]string]string{}
	for _, e := range f.Expected {
		if e.Rendered != nil {
			out[[2]string{e.Template, e.Conversation}] = *e.Rendered
		}
	}
	return f.Conversations, out
}

// The builtin chatml renders tools as the chatml models that call tools
// do: byte for byte Qwen 3's template (as jinja2 renders it) for
// conversations with tool definitions, assistant calls and tool results
// (and for those without: plain chatml is Qwen 3's too), and Qwen 2.5's
// where an assistant's content is null, which Qwen 3's template cannot
// render. Arguments given as a string of JSON are written as they are
// (Qwen 3), not quoted again (Qwen 2.5).
func TestChatMLRendersToolsAsQwen(t *testing.T) {
	convs, ref := referenceRenderings(t)
	src, err := Builtin("chatml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ conversation, template string }{
		{"tools", "Qwen-Qwen3-0.6B.jinja"},
		{"tools-only", "Qwen-Qwen3-0.6B.jinja"},
		{"emptytools", "Qwen-Qwen3-0.6B.jinja"},
		{"multi", "Qwen-Qwen3-0.6B.jinja"},
		{"multi-nosys", "Qwen-Qwen3-0.6B.jinja"},
		{"nogen", "Qwen-Qwen2.5-7B-Instruct.jinja"}, // Qwen 3 would open a last assistant turn with <think>
		{"unicode", "Qwen-Qwen3-0.6B.jinja"},
		{"tools", "Qwen-Qwen2.5-7B-Instruct.jinja"},
		{"tools-nullcontent", "Qwen-Qwen2.5-7B-Instruct.jinja"},
	} {
		want, ok := ref[[2]string{tc.template, tc.conversation}]
		if !ok {
			t.Fatalf("no reference rendering of %s by %s", tc.conversation, tc.template)
		}
		in, err := ParseCase(convs[tc.conversation])
		if err != nil {
			t.Fatal(err)
		}
		got, err := Render(src, in)
		if err != nil {
			t.Fatalf("%s: %v", tc.conversation, err)
		}
		if got != want {
			t.Errorf("%s against %s:\n got %q\nwant %q", tc.conversation, tc.template, got, want)
		}
	}

	in, err := ParseCase(convs["tools-strargs"])
	if err != nil {
		t.Fatal(err)
	}
	got, err := Render(src, in)
	if err != nil {
		t.Fatal(err)
	}
	const call = "<|im_start|>user\nWeather?<|im_end|>\n" +
		"<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}}\n</tool_call><|im_end|>\n" +
		"<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
	if want := "</tool_call><|im_end|>\n" + call; len(got) < len(want) || got[len(got)-len(want):] != want {
		t.Errorf("tools-strargs:\n got %q\nwant it to end %q", got, want)
	}
}

// Without a tools list the calls and results still render as Hermes
// markup (a conversation sent back without its tools), and a tool message
// alone, first or last, opens and closes its user turn.
func TestChatMLToolHistoryWithoutTools(t *testing.T) {
	src, err := Builtin("chatml")
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Messages: []map[string]any{
		{"role": "tool", "content": "early"},
		{"role": "user", "content": "Q"},
		{"role": "assistant", "content": "Let me look.", "tool_calls": []any{
			map[string]any{"name": "a", "arguments": map[string]any{"x": 1}},
			map[string]any{"type": "function", "function": map[string]any{"name": "b", "arguments": "{}"}},
		}},
		{"role": "tool", "content": "1"},
		{"role": "tool", "content": []any{map[string]any{"type": "text", "text": "2"}}},
	}}
	want := "<|im_start|>user\n<tool_response>\nearly\n</tool_response><|im_end|>\n" +
		"<|im_start|>user\nQ<|im_end|>\n" +
		"<|im_start|>assistant\nLet me look.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n</tool_call>\n" +
		"<tool_call>\n{\"name\": \"b\", \"arguments\": {}}\n</tool_call><|im_end|>\n" +
		"<|im_start|>user\n<tool_response>\n1\n</tool_response>\n<tool_response>\n2\n</tool_response><|im_end|>\n"
	got, err := Render(src, in)
	if err != nil || got != want {
		t.Errorf("got %q (%v)\nwant %q", got, err, want)
	}
}
