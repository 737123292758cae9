package serve

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/grammar"
	"github.com/conveyor-llm/conveyor/toolcall"
)

// answer reads a chat answer as it is generated: content, reasoning_content
// and tool_calls (toolcall's parser for the template's family).
type answer struct {
	opts     toolcall.Options
	parser   *toolcall.Parser
	specials bool // write the text of control tokens (the family's markers are such)
	parallel bool
	ids      []string
	events   []toolcall.Event
}

// toolFunction is one of the request's tools.
type toolFunction struct {
	Name       string
	Parameters json.RawMessage // JSON text, to keep the properties' order
}

// setupAnswer reads tools, tool_choice, parallel_tool_calls and
// reasoning_format; with tool_choice required or a function, req's grammar
// is the family's call syntax around the functions' parameter schemas.
func (srv *Server) setupAnswer(body *chatRequest, req *engine.Request) (*answer, *requestError) {
	a := &answer{parallel: body.ParallelToolCalls == nil || *body.ParallelToolCalls}
	a.opts.Family = toolcall.Detect(srv.opts.ChatTemplate)
	switch body.ReasoningFormat {
	case "", "auto", "deepseek", "parsed":
		a.opts.Reasoning = true
	case "none":
	default:
		return nil, badRequest("reasoning_format", "'reasoning_format' must be \"auto\", \"deepseek\" or \"none\" (reasoning kept in the content), got %q", body.ReasoningFormat)
	}
	var fns []toolFunction
	for i, raw := range body.Tools {
		var t struct {
			Type     string `json:"type"`
			Function *struct {
				Name       string          `json:"name"`
				Parameters json.RawMessage `json:"parameters"`
			} `json:"function"`
		}
		if json.Unmarshal(raw, &t) != nil || t.Type != "function" || t.Function == nil || t.Function.Name == "" {
			return nil, badRequest(fmt.Sprintf("tools[%d]", i), "each tool must be {\"type\": \"function\", \"function\": {\"name\": ..., \"parameters\": {...}}}")
		}
		fns = append(fns, toolFunction{t.Function.Name, t.Function.Parameters})
	}
	choice := "auto"
	var named string
	switch tc := body.ToolChoice.(type) {
	case nil:
	case string:
		switch tc {
		case "auto", "none", "required":
			choice = tc
		default:
			return nil, badRequest("tool_choice", "'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}, got %q", tc)
		}
	case map[string]any:
		fn, _ := tc["function"].(map[string]any)
		named, _ = fn["name"].(string)
		if tc["type"] != "function" || named == "" {
			return nil, badRequest("tool_choice", "'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}")
		}
		choice = "named"
	default:
		return nil, badRequest("tool_choice", "Invalid type for 'tool_choice': expected a string or an object")
	}
	if choice != "auto" && choice != "none" && len(fns) == 0 {
		return nil, badRequest("tool_choice", "'tool_choice' %s needs 'tools'", choice)
	}
	a.opts.NoCalls = len(fns) == 0 || choice == "none"
	if choice == "named" {
		var keep []toolFunction
		for _, f := range fns {
			if f.Name == named {
				keep = append(keep, f)
			}
		}
		if keep == nil {
			return nil, badRequest("tool_choice", "'tool_choice' names %q, which is not in 'tools'", named)
		}
		fns = keep
	}
	if choice == "required" || choice == "named" {
		if req.Grammar != "" {
			return nil, badRequest("tool_choice", "'tool_choice' %s and a constraint on the answer's form cannot both apply", choice)
		}
		if a.opts.Family != toolcall.Hermes {
			// Other families mark calls with control tokens, which a
			// grammar over the tokens' text cannot write: the call is JSON.
			a.opts.Family = toolcall.JSON
		}
		gbnf, err := callGrammar(a.opts.Family, fns, a.parallel)
		if err != nil {
			return nil, err
		}
		req.Grammar = gbnf
	}
	a.specials = a.opts.Family == toolcall.Harmony || a.opts.Family == toolcall.Mistral || a.opts.Family == toolcall.Llama3
	return a, nil
}

// start begins parsing once the prompt is known: a prompt ending in <think>
// has the answer begin inside the reasoning.
func (a *answer) start(prompt string) {
	a.opts.InReasoning = strings.HasSuffix(strings.TrimRight(prompt, " \n"), "<think>")
	a.parser = toolcall.NewParser(a.opts)
}

// add feeds a generated token, its control token's text written when the
// family's markers are such (the engine's text leaves them out).
func (a *answer) add(srv *Server, t engine.Token) []toolcall.Event {
	s := t.Text
	if s == "" && a.specials && t.ID >= 0 {
		tok := srv.m.Tokenizer()
		if len(tok.Piece(t.ID)) == 0 && !tok.IsEOG(t.ID) {
			s = tok.Token(t.ID)
		}
	}
	if s == "" {
		return nil
	}
	return a.keep(a.parser.Add(s))
}

// fresh is a new answer, not yet begun, read as a is.
func (a *answer) fresh() *answer {
	return &answer{opts: a.opts, parser: toolcall.NewParser(a.opts), specials: a.specials, parallel: a.parallel}
}

func (a *answer) finish() []toolcall.Event { return a.keep(a.parser.Finish()) }

// keep drops calls past the first when parallel calls are off, and records
// the events.
func (a *answer) keep(ev []toolcall.Event) []toolcall.Event {
	out := ev[:0]
	for _, e := range ev {
		if (e.Kind == toolcall.CallStart || e.Kind == toolcall.CallArgs) && e.Index > 0 && !a.parallel {
			continue
		}
		if e.Kind == toolcall.CallStart {
			a.ids = append(a.ids, newID("call_"))
		}
		out = append(out, e)
	}
	a.events = append(a.events, out...)
	return out
}

func (a *answer) calls() int { return len(a.ids) }

// message is the whole answer as a chat message.
func (a *answer) message() map[string]any {
	m := toolcall.Collect(a.events)
	msg := map[string]any{"role": "assistant", "content": m.Content}
	if m.Reasoning != "" {
		msg["reasoning_content"] = m.Reasoning
	}
	if len(m.Calls) > 0 {
		calls := make([]any, len(m.Calls))
		for i, c := range m.Calls {
			calls[i] = map[string]any{"id": a.ids[i], "type": "function",
				"function": map[string]any{"name": c.Name, "arguments": c.Arguments}}
		}
		msg["tool_calls"] = calls
		if strings.TrimSpace(m.Content) == "" {
			msg["content"] = nil
		}
	}
	return msg
}

// delta is an event as a streamed chat delta.
func (a *answer) delta(e toolcall.Event) map[string]any {
	switch e.Kind {
	case toolcall.Reasoning:
		return map[string]any{"reasoning_content": e.Text}
	case toolcall.CallStart:
		return map[string]any{"tool_calls": []any{map[string]any{"index": e.Index, "id": a.ids[e.Index], "type": "function",
			"function": map[string]any{"name": e.Name, "arguments": ""}}}}
	case toolcall.CallArgs:
		return map[string]any{"tool_calls": []any{map[string]any{"index": e.Index, "function": map[string]any{"arguments": e.Text}}}}
	}
	return map[string]any{"content": e.Text}
}

// callGrammar is GBNF for a call of one of fns in family's syntax (Hermes'
// <tool_call> tags, or a bare JSON object), up to four with parallel calls.
func callGrammar(family toolcall.Family, fns []toolFunction, parallel bool) (string, *requestError) {
	var b strings.Builder
	var alts []string
	for i, f := range fns {
		raw := f.Parameters
		if isNull(raw) {
			raw = json.RawMessage(`{"type": "object"}`)
		}
		g, err := grammar.SchemaToGBNF(raw)
		if err != nil {
			return "", badRequest("tools", "the parameters of %q cannot be enforced: %v", f.Name, err)
		}
		prefix := fmt.Sprintf("t%d-", i)
		b.WriteString(renameRules(g, prefix))
		name, _ := json.Marshal(f.Name)
		alts = append(alts, gbnfLiteral(string(name)+`, "arguments": `)+" "+prefix+"root")
	}
	call := `"{\"name\": " (` + strings.Join(alts, " | ") + `) "}"`
	sep := `", "`
	if family == toolcall.Hermes {
		call = `"<tool_call>\n" ` + call + ` "\n</tool_call>"`
		sep = `"\n"`
	}
	fmt.Fprintf(&b, "call ::= %s\n", call)
	switch {
	case !parallel:
		b.WriteString("root ::= call\n")
	case family == toolcall.Hermes:
		fmt.Fprintf(&b, "root ::= call (%s call){0,3}\n", sep)
	default:
		fmt.Fprintf(&b, "root ::= call | \"[\" call (%s call){0,3} \"]\"\n", sep)
	}
	if _, err := grammar.Parse(b.String()); err != nil {
		return "", badRequest("tools", "the tools' grammar is not valid: %v", err)
	}
	return b.String(), nil
}

func gbnfLiteral(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

var ruleName = regexp.MustCompile(`(?m)^([a-zA-Z0-9_-]+) ::=`)

// renameRules puts prefix before each rule name of a GBNF text, in its
// definitions and references (outside literals and character classes).
func renameRules(g, prefix string) string {
	names := map[string]bool{}
	for _, m := range ruleName.FindAllStringSubmatch(g, -1) {
		names[m[1]] = true
	}
	var b strings.Builder
	isName := func(c byte) bool {
		return c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	for i := 0; i < len(g); {
		c := g[i]
		switch {
		case c == '"' || c == '[':
			end := byte('"')
			if c == '[' {
				end = ']'
			}
			j := i + 1
			for j < len(g) && g[j] != end {
				if g[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(g))
			b.WriteString(g[i:j])
			i = j
		case isName(c):
			j := i
			for j < len(g) && isName(g[j]) {
				j++
			}
			if names[g[i:j]] {
				b.WriteString(prefix)
			}
			b.WriteString(g[i:j])
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// toolMessages gives assistant tool_calls' arguments, which the OpenAI API
// sends as strings of JSON, as objects: templates write them with tojson.
func toolMessages(msgs []map[string]any) {
	for _, m := range msgs {
		raw, ok := m["tool_calls"].(json.RawMessage)
		if !ok {
			continue
		}
		var calls []map[string]any
		if json.Unmarshal(raw, &calls) != nil {
			continue
		}
		for _, c := range calls {
			fn, _ := c["function"].(map[string]any)
			if s, ok := fn["arguments"].(string); ok {
				var obj map[string]any
				if json.Unmarshal([]byte(s), &obj) == nil {
					fn["arguments"] = json.RawMessage(s)
				}
			}
		}
		m["tool_calls"] = calls
	}
}
