package chat

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestSnippets renders the small templates of testdata/snippets.txt, each
// exercising part of Jinja (whitespace control, scoping, filters, tests, Python
// methods and value formatting), and compares them with what Python's jinja2
// renders, set up as transformers sets it up (testdata/gen_snippets.py).
func TestSnippets(t *testing.T) {
	data, err := os.ReadFile("testdata/snippets.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Messages []json.RawMessage `json:"messages"`
		Cases    []struct {
			Template  string  `json:"template"`
			Rendered  *string `json:"rendered"`
			Error     string  `json:"error"`
			ErrorKind string  `json:"error_kind"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	bos := "<s>"
	for i, c := range f.Cases {
		got, err := Render(c.Template, Input{RawMessages: f.Messages, AddGenerationPrompt: true, BOSToken: &bos, Date: pinnedDate})
		switch {
		case c.Rendered == nil && err == nil:
			t.Errorf("snippet %d: rendered %q, want the error %s\n%s", i, got, c.Error, c.Template)
		case c.Rendered == nil && c.ErrorKind == "raise_exception" && err.Error() != c.Error:
			t.Errorf("snippet %d: error %q, want %q", i, err, c.Error)
		case c.Rendered != nil && err != nil:
			t.Errorf("snippet %d: %v\n%s", i, err, c.Template)
		case c.Rendered != nil && got != *c.Rendered:
			t.Errorf("snippet %d:\n got %q\nwant %q\n%s", i, got, *c.Rendered, c.Template)
		}
	}
}

func render(t *testing.T, src string, in Input) (string, error) {
	t.Helper()
	if in.Date.IsZero() {
		in.Date = pinnedDate
	}
	return Render(src, in)
}

func TestRaiseExceptionMessageIsTheError(t *testing.T) {
	_, err := render(t, `{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}`,
		Input{Messages: []map[string]any{{"role": "system", "content": "x"}}})
	var re *RaiseError
	if !errors.As(err, &re) || err.Error() != "System role not supported" {
		t.Fatalf("error %v (%T), want the raised message", err, err)
	}
}

func TestUndefinedFollowsJinja(t *testing.T) {
	// Printing, testing, defaulting and iterating an undefined value are fine.
	got, err := render(t, `[{{ nope }}|{{ nope is defined }}|{{ nope|default('d') }}|{% for x in nope %}x{% endfor %}|{{ nope ~ 'c' }}|{{ messages[0].missing is none }}]`,
		Input{Messages: []map[string]any{{"role": "user", "content": "x"}}})
	if err != nil || got != "[|False|d||c|False]" {
		t.Fatalf("got %q, %v", got, err)
	}
	// Its attributes, arithmetic with it and calling it are errors.
	for _, src := range []string{`{{ nope.attr }}`, `{{ nope + 1 }}`, `{{ nope() }}`, `{{ nope[0] }}`, `{{ messages[0].missing.deeper }}`} {
		_, err := render(t, src, Input{Messages: []map[string]any{{"role": "user"}}})
		if err == nil || !strings.Contains(err.Error(), "UndefinedError") {
			t.Errorf("%s: error %v, want an UndefinedError", src, err)
		}
	}
	_, err = render(t, `{{ nope.attr }}`, Input{})
	if err == nil || !strings.Contains(err.Error(), "'nope' is undefined") {
		t.Errorf("error %v, want it to name the variable", err)
	}
}

func TestOtherErrors(t *testing.T) {
	for src, want := range map[string]string{
		`{% for m in tools %}{% endfor %}`: "TypeError: 'NoneType' object is not iterable",
		`{{ 'a' + 1 }}`:                    `TypeError: can only concatenate str (not "int") to str`,
		`{% if true %}`:                    "unexpected end of template",
		`{{ x | nosuchfilter }}`:           "No filter named 'nosuchfilter'",
		`{% frobnicate %}`:                 "unknown tag 'frobnicate'",
		`{{ [1].append(2) }}`:              "SecurityError",
		`{% break %}`:                      "break outside a loop",
	} {
		_, err := render(t, src, Input{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", src, err, want)
		}
	}
}

func TestToJSONKeepsKeyOrderAndFormatting(t *testing.T) {
	in := Input{
		Messages: []map[string]any{{"role": "assistant", "tool_calls": []any{map[string]any{"type": "function",
			"function": map[string]any{"name": "f", "arguments": json.RawMessage(`{"z": 1, "a": "é", "m": [1.0, 2.5e-7, null]}`)}}}}},
		Tools: []any{json.RawMessage(`{"type": "function", "function": {"name": "f", "parameters": {}}}`)},
	}
	got, err := render(t, `{{ messages[0].tool_calls[0].function.arguments|tojson }}|{{ tools|tojson }}|{{ messages[0].tool_calls[0].function.arguments|tojson(indent=2) }}`, in)
	want := `{"z": 1, "a": "é", "m": [1.0, 2.5e-07, null]}|[{"type": "function", "function": {"name": "f", "parameters": {}}}]|{
  "z": 1,
  "a": "é",
  "m": [
    1.0,
    2.5e-07,
    null
  ]
}`
	if err != nil || got != want {
		t.Fatalf("got %q, %v\nwant %q", got, err, want)
	}
}

func TestStrftimeNowUsesTheDate(t *testing.T) {
	got, err := render(t, `{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d') }}|{{ strftime_now('%B %d, %Y') }}|{{ strftime_now('%-d %A') }}`, Input{})
	if err != nil || got != "26 Jul 2024|2024-07-26|July 26, 2024|26 Friday" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestTokensUndefinedWhenNil(t *testing.T) {
	eos := "</s>"
	got, err := render(t, `[{{ bos_token }}|{{ bos_token is defined }}|{{ eos_token }}|{{ tools is none }}|{{ add_generation_prompt }}]`, Input{EOSToken: &eos})
	if err != nil || got != "[|False|</s>|True|False]" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestMessageStructs(t *testing.T) {
	msgs := []Message{
		{Role: "system", Content: "S"},
		{Role: "user", Content: []ContentPart{{Type: "text", Text: "A"}, {Type: "text", Text: "B"}}},
		{Role: "assistant", ToolCalls: []ToolCall{{ID: "c1", Type: "function", Function: FunctionCall{Name: "f", Arguments: json.RawMessage(`{"b":1,"a":2}`)}}}},
		{Role: "tool", ToolCallID: "c1", Content: "ok"},
	}
	var in Input
	for _, m := range msgs {
		mm, err := m.Map()
		if err != nil {
			t.Fatal(err)
		}
		in.Messages = append(in.Messages, mm)
	}
	got, err := render(t, `{% for m in messages %}{{ m.role }}:{% if m.content is string %}{{ m.content }}{% elif m.content is none %}none{% else %}{{ m.content|map(attribute='text')|join }}{% endif %}{% if m.tool_calls %}{{ m.tool_calls[0].function.arguments|tojson }}{% endif %}{{ m.tool_call_id }};{% endfor %}`, in)
	if err != nil || got != `system:S;user:AB;assistant:none{"b": 1, "a": 2};tool:okc1;` {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestVars(t *testing.T) {
	got, err := render(t, `{{ enable_thinking }}|{{ reasoning_effort }}|{{ extra|tojson }}`, Input{Vars: map[string]any{
		"enable_thinking": false, "reasoning_effort": "high", "extra": json.RawMessage(`{"b": [1], "a": null}`)}})
	if err != nil || got != `False|high|{"b": [1], "a": null}` {
		t.Fatalf("got %q, %v", got, err)
	}
}
