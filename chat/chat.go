// Package chat renders chat templates (the Jinja source in a GGUF's
// tokenizer.chat_template) exactly as Hugging Face transformers'
// apply_chat_template does: a sandboxed, immutable Jinja environment with
// trim_blocks and lstrip_blocks on, loop controls (break, continue), the globals
// raise_exception and strftime_now, and transformers' tojson filter.
//
// The Jinja engine is this package's own: a lexer, parser and evaluator for the
// part of Jinja that chat templates use, with Python's semantics for the values
// (str() and repr() of values, dicts that keep their key order, Python string and
// dict methods, slicing, integer and float arithmetic).
package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Message is one chat message in the OpenAI / Hugging Face shape. Templates see
// messages as dictionaries; Map gives this one as such.
type Message struct {
	Role             string     `json:"role"`
	Content          any        `json:"content"` // a string, nil, or a list of parts ([]ContentPart)
	ReasoningContent string     `json:"reasoning_content,omitempty"`
	Name             string     `json:"name,omitempty"`
	ToolCalls        []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID       string     `json:"tool_call_id,omitempty"`
}

// ContentPart is one part of a message's content given as a list.
type ContentPart struct {
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
}

// ToolCall is an assistant's call of a tool.
type ToolCall struct {
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type"`
	Function FunctionCall `json:"function"`
}

// FunctionCall names the function called and its arguments: a JSON object
// (json.RawMessage keeps its key order, as Hugging Face templates expect) or,
// in the OpenAI API's form, a string holding JSON.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments any    `json:"arguments"`
}

// Map is the message as the dictionary a template sees.
func (m Message) Map() (map[string]any, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	out := make(map[string]any, len(raw))
	for k, v := range raw {
		out[k] = v
	}
	return out, nil
}

// Input is what a template renders: the variables transformers passes.
type Input struct {
	// Messages are the conversation. Values may be JSON-like Go values or
	// json.RawMessage (whose object keys keep their order; a Go map's keys are
	// sorted, after the usual message keys role, content, ... in that order).
	Messages []map[string]any
	// RawMessages, when not nil, are the conversation instead of Messages: each
	// message a JSON object, whose keys keep their order at every level.
	RawMessages []json.RawMessage
	// Tools are the tool definitions; nil means none (the template sees none).
	Tools []any
	// AddGenerationPrompt asks the template to begin the assistant's turn.
	AddGenerationPrompt bool
	// BOSToken and EOSToken are the model's tokens; nil leaves them undefined.
	BOSToken, EOSToken *string
	// Date is what strftime_now formats; the zero time means now.
	Date time.Time
	// Vars are further variables (enable_thinking, reasoning_effort, ...).
	Vars map[string]any
	// Context, when set, cancels the rendering (a server's request context).
	// A rendering also stops after MaxRenderTime.
	Context context.Context
}

// Template is a parsed chat template.
type Template struct {
	body []node
}

// Compile parses a template.
func Compile(src string) (*Template, error) {
	body, err := parse(src)
	if err != nil {
		return nil, err
	}
	return &Template{body: body}, nil
}

var cache sync.Map // template source -> *Template

// Render renders template with in's variables.
func Render(template string, in Input) (string, error) {
	t, ok := cache.Load(template)
	if !ok {
		c, err := Compile(template)
		if err != nil {
			return "", err
		}
		t, _ = cache.LoadOrStore(template, c)
	}
	return t.(*Template).Render(in)
}

// messageKeyOrder orders the keys of a message given as a Go map.
var messageKeyOrder = map[string]int{"role": 0, "content": 1, "reasoning_content": 2, "thinking": 3, "name": 4, "tool_calls": 5, "tool_call_id": 6}

func messageValue(m map[string]any) (*dict, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		oi, iok := messageKeyOrder[keys[i]]
		oj, jok := messageKeyOrder[keys[j]]
		switch {
		case iok && jok:
			return oi < oj
		case iok != jok:
			return iok
		}
		return keys[i] < keys[j]
	})
	d := newDict()
	for _, k := range keys {
		v, err := fromGo(m[k])
		if err != nil {
			return nil, fmt.Errorf("message field %q: %w", k, err)
		}
		d.set(k, v)
	}
	return d, nil
}

// Render renders the template with in's variables.
func (t *Template) Render(in Input) (string, error) {
	now := in.Date
	if now.IsZero() {
		now = time.Now()
	}
	vars := map[string]any{}
	r := &renderer{out: &strings.Builder{}, now: now, ctx: in.Context, deadline: time.Now().Add(MaxRenderTime)}
	for k, v := range globals(r) {
		vars[k] = v
	}
	for k, v := range in.Vars {
		gv, err := fromGo(v)
		if err != nil {
			return "", fmt.Errorf("variable %s: %w", k, err)
		}
		vars[k] = gv
	}
	msgs := make([]any, len(in.Messages))
	for i, m := range in.Messages {
		d, err := messageValue(m)
		if err != nil {
			return "", fmt.Errorf("message %d: %w", i, err)
		}
		msgs[i] = d
	}
	if in.RawMessages != nil {
		msgs = make([]any, len(in.RawMessages))
		for i, m := range in.RawMessages {
			v, err := decodeJSON(m)
			if err != nil {
				return "", fmt.Errorf("message %d: %w", i, err)
			}
			msgs[i] = v
		}
	}
	vars["messages"] = msgs
	vars["tools"] = nil
	if in.Tools != nil {
		tools, err := fromGo(in.Tools)
		if err != nil {
			return "", fmt.Errorf("tools: %w", err)
		}
		vars["tools"] = tools
	}
	vars["documents"] = nil
	vars["add_generation_prompt"] = in.AddGenerationPrompt
	if in.BOSToken != nil {
		vars["bos_token"] = *in.BOSToken
	}
	if in.EOSToken != nil {
		vars["eos_token"] = *in.EOSToken
	}
	root := &scope{vars: vars}
	r.rt = root
	err := r.renderBody(t.body, &scope{vars: map[string]any{}, parent: root})
	switch {
	case errors.Is(err, errBreak), errors.Is(err, errContinue):
		return "", fmt.Errorf("template error: %v", err)
	case err != nil:
		return "", err
	}
	return r.out.String(), nil
}

func globals(r *renderer) map[string]any {
	return map[string]any{
		"raise_exception": &function{name: "raise_exception", call: func(_ *renderer, args []any, kw *dict) (any, error) {
			return nil, &RaiseError{Message: pyStr(argAt(args, kw, 0, "message", ""))}
		}},
		"strftime_now": &function{name: "strftime_now", call: func(r *renderer, args []any, kw *dict) (any, error) {
			f, ok := argAt(args, kw, 0, "format", nil).(string)
			if !ok {
				return nil, typeErr("strftime_now() argument must be str")
			}
			return strftime(r.now, f), nil
		}},
		"namespace": &function{name: "namespace", call: func(_ *renderer, args []any, kw *dict) (any, error) {
			ns := &namespace{attrs: newDict()}
			for _, a := range args {
				d, ok := a.(*dict)
				if !ok {
					return nil, typeErr("namespace() takes mappings as positional arguments")
				}
				for _, k := range d.keys {
					ns.attrs.set(k, d.m[k])
				}
			}
			for _, k := range kw.keys {
				ns.attrs.set(k, kw.m[k])
			}
			return ns, nil
		}},
		"range": &function{name: "range", call: func(_ *renderer, args []any, _ *dict) (any, error) {
			var start, stop, step int64 = 0, 0, 1
			ints := make([]int64, len(args))
			for i, a := range args {
				n, ok := asInt(a)
				if !ok {
					return nil, typeErr("'%s' object cannot be interpreted as an integer", typeName(a))
				}
				ints[i] = n
			}
			switch len(ints) {
			case 1:
				stop = ints[0]
			case 2:
				start, stop = ints[0], ints[1]
			case 3:
				start, stop, step = ints[0], ints[1], ints[2]
			default:
				return nil, typeErr("range expected 1 to 3 arguments, got %d", len(ints))
			}
			if step == 0 {
				return nil, &evalError{"ValueError", "range() arg 3 must not be zero"}
			}
			out := []any{}
			for i := start; step > 0 && i < stop || step < 0 && i > stop; i += step {
				if len(out) >= 100000 {
					return nil, &evalError{"OverflowError", "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000)."}
				}
				out = append(out, i)
			}
			return out, nil
		}},
		"dict": &function{name: "dict", call: func(_ *renderer, args []any, kw *dict) (any, error) {
			d := newDict()
			if len(args) > 0 {
				switch a := args[0].(type) {
				case *dict:
					for _, k := range a.keys {
						d.set(k, a.m[k])
					}
				default:
					items, err := iterate(a)
					if err != nil {
						return nil, err
					}
					for _, it := range items {
						kv, ok := asSeq(it)
						if !ok || len(kv) != 2 {
							return nil, &evalError{"ValueError", "dictionary update sequence element has wrong length"}
						}
						d.set(kv[0], kv[1])
					}
				}
			}
			for _, k := range kw.keys {
				d.set(k, kw.m[k])
			}
			return d, nil
		}},
	}
}

// ParseCase reads a rendering case: a JSON object with "messages",
// "add_generation_prompt", "bos_token" and "eos_token" (null: undefined) and,
// when the conversation has tools, "tools". Other fields are ignored. Object
// keys inside messages and tools keep their order.
func ParseCase(data []byte) (Input, error) {
	var c struct {
		Messages            []json.RawMessage `json:"messages"`
		Tools               []json.RawMessage `json:"tools"`
		AddGenerationPrompt bool              `json:"add_generation_prompt"`
		BOSToken            *string           `json:"bos_token"`
		EOSToken            *string           `json:"eos_token"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return Input{}, err
	}
	in := Input{AddGenerationPrompt: c.AddGenerationPrompt, BOSToken: c.BOSToken, EOSToken: c.EOSToken}
	in.RawMessages = c.Messages
	if in.RawMessages == nil {
		in.RawMessages = []json.RawMessage{}
	}
	if c.Tools != nil {
		in.Tools = make([]any, len(c.Tools))
		for i, tl := range c.Tools {
			in.Tools[i] = tl
		}
	}
	return in, nil
}
