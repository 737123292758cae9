// Package toolcall reads tool calls and reasoning out of a model's answer, in
// the formats of the major chat template families: Hermes, Qwen 2.5 and Qwen 3
// (<tool_call>{"name": ..., "arguments": ...}</tool_call>), Llama 3.1 to 3.3
// (a JSON object with name and parameters, or <|python_tag|>), Mistral
// ([TOOL_CALLS][{...}] or [TOOL_CALLS]name[ARGS]{...}), gpt-oss's Harmony
// (<|channel|>commentary to=functions.NAME ... <|message|>{args}) and a
// generic JSON fallback (the whole answer a {"name", "arguments"} object or an
// array of them).
//
// Reasoning is the text between <think> and </think> at the start of the
// answer (or from its start when the prompt ended with <think>) and Harmony's
// analysis channel.
//
// Parse reads a whole answer; a Parser reads one as it streams and gives the
// same result however the text is split.
package toolcall

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Family is a tool-call format.
type Family string

const (
	Hermes  Family = "hermes"  // <tool_call>JSON</tool_call>: Hermes, Qwen 2.5, Qwen 3
	Llama3  Family = "llama3"  // {"name": ..., "parameters": ...} or <|python_tag|>
	Mistral Family = "mistral" // [TOOL_CALLS]
	Harmony Family = "harmony" // gpt-oss: to=functions.NAME
	JSON    Family = "json"    // the whole answer a call object, or an array of them
)

// Detect picks the family from a chat template's source.
func Detect(template string) Family {
	switch {
	case strings.Contains(template, "<|channel|>") || strings.Contains(template, "to=functions."):
		return Harmony
	case strings.Contains(template, "[TOOL_CALLS]"):
		return Mistral
	case strings.Contains(template, "<tool_call>"):
		return Hermes
	case strings.Contains(template, "<|python_tag|>") || strings.Contains(template, "<|start_header_id|>"):
		return Llama3
	}
	return JSON
}

// Call is one tool call: the function's name and its arguments as JSON text.
type Call struct {
	Name      string
	Arguments string
}

// Message is a parsed answer.
type Message struct {
	Content   string
	Reasoning string
	Calls     []Call
}

// Parse reads the answer text of family f (reasoning parsed, the prompt not
// ending inside a <think> block).
func Parse(f Family, text string) Message {
	return ParseWith(Options{Family: f, Reasoning: true}, text)
}

// ParseWith reads a whole answer with opts.
func ParseWith(opts Options, text string) Message {
	p := NewParser(opts)
	return Collect(append(p.Add(text), p.Finish()...))
}

// Collect gathers events into a message.
func Collect(events []Event) Message {
	var m Message
	var content, reasoning strings.Builder
	for _, e := range events {
		switch e.Kind {
		case Content:
			content.WriteString(e.Text)
		case Reasoning:
			reasoning.WriteString(e.Text)
		case CallStart:
			m.Calls = append(m.Calls, Call{Name: e.Name})
		case CallArgs:
			m.Calls[e.Index].Arguments += e.Text
		}
	}
	m.Content, m.Reasoning = content.String(), reasoning.String()
	return m
}

// callObject reads {"name": ..., "arguments"|"parameters": ...}, also nested
// as {"function": {...}}; arguments given as a string of JSON are that JSON.
func callObject(raw json.RawMessage) (Call, bool) {
	var o map[string]json.RawMessage
	if json.Unmarshal(raw, &o) != nil {
		return Call{}, false
	}
	if fn, ok := o["function"]; ok {
		if c, ok := callObject(fn); ok {
			return c, true
		}
	}
	var c Call
	if json.Unmarshal(o["name"], &c.Name) != nil || c.Name == "" {
		return Call{}, false
	}
	args, ok := o["arguments"]
	if !ok {
		args, ok = o["parameters"]
	}
	if !ok {
		c.Arguments = "{}"
		return c, true
	}
	var s string
	if json.Unmarshal(args, &s) == nil {
		if !json.Valid([]byte(s)) {
			return Call{}, false
		}
		args = json.RawMessage(s)
	}
	var obj map[string]any
	if json.Unmarshal(args, &obj) != nil {
		return Call{}, false // arguments are an object
	}
	c.Arguments = string(bytes.TrimSpace(args))
	return c, true
}

// callValues reads a sequence of call objects or arrays of them, separated
// by white space, commas or semicolons (Llama 3 writes several so); ok only
// when the whole text is such.
func callValues(text string) ([]Call, bool) {
	var calls []Call
	rest := strings.TrimSpace(text)
	if rest == "" {
		return nil, false
	}
	for rest != "" {
		dec := json.NewDecoder(strings.NewReader(rest))
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return nil, false
		}
		v = bytes.TrimSpace(v)
		if len(v) > 0 && v[0] == '[' {
			var arr []json.RawMessage
			if json.Unmarshal(v, &arr) != nil || len(arr) == 0 {
				return nil, false
			}
			for _, a := range arr {
				c, ok := callObject(a)
				if !ok {
					return nil, false
				}
				calls = append(calls, c)
			}
		} else {
			var wrapped struct {
				ToolCalls []json.RawMessage `json:"tool_calls"`
			}
			if json.Unmarshal(v, &wrapped) == nil && len(wrapped.ToolCalls) > 0 {
				for _, a := range wrapped.ToolCalls {
					c, ok := callObject(a)
					if !ok {
						return nil, false
					}
					calls = append(calls, c)
				}
			} else {
				c, ok := callObject(v)
				if !ok {
					return nil, false
				}
				calls = append(calls, c)
			}
		}
		rest = strings.TrimLeft(rest[dec.InputOffset():], " \t\r\n;,")
	}
	return calls, true
}

// mistralCalls reads what follows [TOOL_CALLS]: a JSON array of calls, or
// name[ARGS]{...} (Mistral's newer templates, an optional [CALL_ID]id
// before [ARGS]), each further call after another [TOOL_CALLS].
func mistralCalls(text string) ([]Call, bool) {
	var calls []Call
	for _, part := range strings.Split(text, "[TOOL_CALLS]") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if part[0] == '[' || part[0] == '{' {
			cs, ok := callValues(part)
			if !ok {
				return nil, false
			}
			calls = append(calls, cs...)
			continue
		}
		name, args, ok := strings.Cut(part, "[ARGS]")
		if !ok {
			return nil, false
		}
		name, _, _ = strings.Cut(name, "[CALL_ID]")
		name = strings.TrimSpace(name)
		var obj map[string]any
		args = strings.TrimSpace(args)
		if name == "" || json.Unmarshal([]byte(args), &obj) != nil {
			return nil, false
		}
		calls = append(calls, Call{Name: name, Arguments: args})
	}
	return calls, len(calls) > 0
}

// pythonTagCalls reads what follows <|python_tag|>: call objects, or else
// code for Llama's built-in python tool.
func pythonTagCalls(text string) []Call {
	if calls, ok := callValues(text); ok {
		return calls
	}
	code, _ := json.Marshal(map[string]string{"code": strings.TrimSpace(text)})
	return []Call{{Name: "python", Arguments: string(code)}}
}
