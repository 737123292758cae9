package toolcall

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// answers are answer texts as models of each family write them.
var answers = []struct {
	name string
	opts Options
	text string
	want Message
}{
	{"qwen3 call after thinking", Options{Family: Hermes, Reasoning: true},
		"<think>\nThe user wants the weather in Paris. I should call get_weather.\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris, France\", \"unit\": \"celsius\"}}\n</tool_call>",
		Message{Reasoning: "The user wants the weather in Paris. I should call get_weather.",
			Calls: []Call{{"get_weather", `{"location": "Paris, France", "unit": "celsius"}`}}}},
	{"qwen2.5 parallel calls", Options{Family: Hermes, Reasoning: true},
		"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"tz\": \"Europe/Paris\"}}\n</tool_call>",
		Message{Content: "\n", Calls: []Call{{"get_weather", `{"location": "Paris"}`}, {"get_time", `{"tz": "Europe/Paris"}`}}}},
	{"hermes text then call", Options{Family: Hermes, Reasoning: true},
		"Let me check that for you.\n<tool_call>\n{\"arguments\": {\"query\": \"café <b>\"}, \"name\": \"search\"}\n</tool_call>",
		Message{Content: "Let me check that for you.\n", Calls: []Call{{"search", `{"query": "café <b>"}`}}}},
	{"hermes plain answer", Options{Family: Hermes, Reasoning: true},
		"The capital of France is Paris. <b>Really</b> < tool",
		Message{Content: "The capital of France is Paris. <b>Really</b> < tool"}},
	{"hermes broken call stays text", Options{Family: Hermes, Reasoning: true},
		"<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": }\n</tool_call>",
		Message{Content: "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": }\n</tool_call>"}},
	{"qwen3 thinking off", Options{Family: Hermes, Reasoning: true},
		"Hello! How can I help?",
		Message{Content: "Hello! How can I help?"}},
	{"deepseek r1 prompt ends in think", Options{Family: JSON, Reasoning: true, InReasoning: true},
		"Okay, 2+2 is 4.\n</think>\n\nThe answer is 4.",
		Message{Reasoning: "Okay, 2+2 is 4.", Content: "The answer is 4."}},
	{"reasoning inline", Options{Family: Hermes},
		"<think>\nhmm\n</think>\n\nHi",
		Message{Content: "<think>\nhmm\n</think>\n\nHi"}},
	{"llama 3.1 json call", Options{Family: Llama3, Reasoning: true},
		"{\"name\": \"get_current_conditions\", \"parameters\": {\"location\": \"San Francisco, CA\", \"unit\": \"Fahrenheit\"}}",
		Message{Calls: []Call{{"get_current_conditions", `{"location": "San Francisco, CA", "unit": "Fahrenheit"}`}}}},
	{"llama 3.2 two calls", Options{Family: Llama3, Reasoning: true},
		"{\"type\": \"function\", \"name\": \"a\", \"parameters\": {\"x\": 1}}; {\"type\": \"function\", \"name\": \"b\", \"parameters\": {}}",
		Message{Calls: []Call{{"a", `{"x": 1}`}, {"b", `{}`}}}},
	{"llama python_tag json", Options{Family: Llama3, Reasoning: true},
		"<|python_tag|>{\"name\": \"brave_search\", \"parameters\": {\"query\": \"weather\"}}",
		Message{Calls: []Call{{"brave_search", `{"query": "weather"}`}}}},
	{"llama python_tag code", Options{Family: Llama3, Reasoning: true},
		"<|python_tag|>print(2+2)",
		Message{Calls: []Call{{"python", `{"code":"print(2+2)"}`}}}},
	{"llama plain with braces", Options{Family: Llama3, Reasoning: true},
		"Use {name} as a placeholder.",
		Message{Content: "Use {name} as a placeholder."}},
	{"llama json not a call", Options{Family: Llama3, Reasoning: true},
		"{\"answer\": 42}",
		Message{Content: "{\"answer\": 42}"}},
	{"mistral array", Options{Family: Mistral, Reasoning: true},
		"[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"abcDEF123\"}, {\"name\": \"get_time\", \"arguments\": {}}]",
		Message{Calls: []Call{{"get_weather", `{"city": "Paris"}`}, {"get_time", `{}`}}}},
	{"mistral small 3.2", Options{Family: Mistral, Reasoning: true},
		"Sure.[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]get_time[CALL_ID]a1b2c3d4e[ARGS]{\"tz\": \"CET\"}",
		Message{Content: "Sure.", Calls: []Call{{"get_weather", `{"city": "Paris"}`}, {"get_time", `{"tz": "CET"}`}}}},
	{"harmony call", Options{Family: Harmony, Reasoning: true},
		"<|channel|>analysis<|message|>Need weather; call tool.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"location\":\"Tokyo\"}",
		Message{Reasoning: "Need weather; call tool.", Calls: []Call{{"get_weather", `{"location":"Tokyo"}`}}}},
	{"harmony final", Options{Family: Harmony, Reasoning: true},
		"<|channel|>analysis<|message|>Simple greeting.<|end|><|start|>assistant<|channel|>final<|message|>Hello there!",
		Message{Reasoning: "Simple greeting.", Content: "Hello there!"}},
	{"harmony recipient before channel", Options{Family: Harmony, Reasoning: true},
		"<|start|>assistant to=functions.lookup<|channel|>commentary json<|message|>{\"q\": \"x\"}<|call|>",
		Message{Calls: []Call{{"lookup", `{"q": "x"}`}}}},
	{"json fallback", Options{Family: JSON, Reasoning: true},
		" {\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}",
		Message{Calls: []Call{{"f", `{"a": 1}`}}}},
	{"json fallback array", Options{Family: JSON, Reasoning: true},
		"[{\"name\": \"f\", \"arguments\": {}}, {\"function\": {\"name\": \"g\", \"arguments\": {\"b\": [1, 2]}}}]",
		Message{Calls: []Call{{"f", `{}`}, {"g", `{"b": [1, 2]}`}}}},
	{"tool_choice none", Options{Family: Hermes, Reasoning: true, NoCalls: true},
		"<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>",
		Message{Content: "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>"}},
}

func TestParse(t *testing.T) {
	for _, a := range answers {
		t.Run(a.name, func(t *testing.T) {
			require.Equal(t, a.want, ParseWith(a.opts, a.text))
		})
	}
}

// The streaming parser gives the same message however the text is split: in
// two at every byte, and byte by byte.
func TestStreamSplitAtEveryByte(t *testing.T) {
	for _, a := range answers {
		t.Run(a.name, func(t *testing.T) {
			for i := 0; i <= len(a.text); i++ {
				p := NewParser(a.opts)
				ev := append(p.Add(a.text[:i]), p.Add(a.text[i:])...)
				ev = append(ev, p.Finish()...)
				require.Equal(t, a.want, Collect(ev), "split at %d", i)
			}
			p := NewParser(a.opts)
			var ev []Event
			for i := range len(a.text) {
				ev = append(ev, p.Add(a.text[i:i+1])...)
			}
			ev = append(ev, p.Finish()...)
			require.Equal(t, a.want, Collect(ev), "byte by byte")
			for _, e := range ev {
				require.False(t, e.Kind <= Reasoning && e.Text == "", "an empty text event")
			}
		})
	}
}

func TestDetect(t *testing.T) {
	for file, want := range map[string]Family{
		"Qwen-Qwen3-0.6B.jinja": Hermes, "Qwen-Qwen2.5-7B-Instruct.jinja": Hermes,
		"NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja": Hermes,
		"meta-llama-Llama-3.1-8B-Instruct.jinja":            Llama3, "meta-llama-Llama-3.2-3B-Instruct.jinja": Llama3,
		"mistralai-Mistral-Nemo-Instruct-2407.jinja": Mistral, "Mistral-Small-3.2-24B-Instruct-2506.jinja": Mistral,
		"openai-gpt-oss-120b.jinja": Harmony, "google-gemma-2-2b-it.jinja": JSON,
	} {
		src := readTemplate(t, file)
		require.Equal(t, want, Detect(src), file)
	}
}
