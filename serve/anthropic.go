package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/tokenizer"
	"github.com/conveyor-llm/conveyor/toolcall"
)

// The Anthropic Messages API (POST /v1/messages), mapped onto the chat
// completions path: the same template rendering, tool-call grammar and
// parsing; only the request's and the answer's shapes differ.

type anthropicRequest struct {
	Model         string            `json:"model"`
	System        json.RawMessage   `json:"system"`
	Messages      []json.RawMessage `json:"messages"`
	MaxTokens     *int              `json:"max_tokens"`
	Temperature   *float64          `json:"temperature"`
	TopP          *float64          `json:"top_p"`
	TopK          *int              `json:"top_k"`
	StopSequences []string          `json:"stop_sequences"`
	Stream        bool              `json:"stream"`
	Tools         []json.RawMessage `json:"tools"`
	ToolChoice    json.RawMessage   `json:"tool_choice"`
	Metadata      any               `json:"metadata"` // accepted, unused
	Seed          *int64            `json:"seed"`     // ours: as chat's seed
}

// anthropicBlock is a content block of a request's message.
type anthropicBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
}

// anthropicText is a string or an array of text blocks, as one string.
func anthropicText(raw json.RawMessage, param string) (string, *requestError) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var blocks []anthropicBlock
	if json.Unmarshal(raw, &blocks) != nil {
		return "", badRequest(param, "'%s' must be a string or an array of text blocks", param)
	}
	var b strings.Builder
	for i, bl := range blocks {
		if bl.Type != "text" {
			return "", badRequest(fmt.Sprintf("%s[%d]", param, i), "only text blocks are supported here, got %q", bl.Type)
		}
		b.WriteString(bl.Text)
	}
	return b.String(), nil
}

func rawJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// toChat is the request as a chat completions request.
func (a *anthropicRequest) toChat() (*chatRequest, *requestError) {
	if a.MaxTokens == nil {
		return nil, badRequest("max_tokens", "max_tokens: Field required")
	}
	c := &chatRequest{}
	c.Model, c.MaxTokens, c.Temperature, c.TopP, c.TopK = a.Model, a.MaxTokens, a.Temperature, a.TopP, a.TopK
	c.Stop, c.Stream, c.Seed = a.StopSequences, a.Stream, a.Seed
	if c.TopK == nil { // Anthropic samples without top-k unless asked
		zero := 0
		c.TopK = &zero
	}
	if a.Temperature != nil && *a.Temperature > 1 {
		return nil, badRequest("temperature", "temperature: must be between 0 and 1, got %g", *a.Temperature)
	}
	if len(a.Messages) == 0 {
		return nil, badRequest("messages", "messages: at least one message is required")
	}
	msgs := []map[string]json.RawMessage{}
	if len(a.System) > 0 && string(a.System) != "null" {
		sys, err := anthropicText(a.System, "system")
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, map[string]json.RawMessage{"role": rawJSON("system"), "content": rawJSON(sys)})
	}
	for i, raw := range a.Messages {
		param := fmt.Sprintf("messages[%d]", i)
		var m struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		}
		if json.Unmarshal(raw, &m) != nil {
			return nil, badRequest(param, "%s: expected an object with role and content", param)
		}
		if m.Role != "user" && m.Role != "assistant" {
			return nil, badRequest(param+".role", "%s.role: must be \"user\" or \"assistant\", got %q", param, m.Role)
		}
		var s string
		if json.Unmarshal(m.Content, &s) == nil {
			msgs = append(msgs, map[string]json.RawMessage{"role": rawJSON(m.Role), "content": rawJSON(s)})
			continue
		}
		var blocks []anthropicBlock
		if json.Unmarshal(m.Content, &blocks) != nil {
			return nil, badRequest(param+".content", "%s.content: must be a string or an array of content blocks", param)
		}
		var text strings.Builder
		var calls []any
		for j, b := range blocks {
			bparam := fmt.Sprintf("%s.content[%d]", param, j)
			switch {
			case b.Type == "text":
				text.WriteString(b.Text)
			case b.Type == "tool_use" && m.Role == "assistant":
				input := b.Input
				if len(input) == 0 {
					input = json.RawMessage("{}")
				}
				calls = append(calls, map[string]any{"id": b.ID, "type": "function",
					"function": map[string]any{"name": b.Name, "arguments": string(input)}})
			case b.Type == "tool_result" && m.Role == "user":
				result := ""
				if len(b.Content) > 0 && string(b.Content) != "null" {
					var err *requestError
					if result, err = anthropicText(b.Content, bparam+".content"); err != nil {
						return nil, err
					}
				}
				msgs = append(msgs, map[string]json.RawMessage{"role": rawJSON("tool"), "tool_call_id": rawJSON(b.ToolUseID), "content": rawJSON(result)})
			case b.Type == "thinking" || b.Type == "redacted_thinking":
				// Earlier reasoning is not sent back to the template.
			default:
				return nil, badRequest(bparam, "%s: block type %q is not supported in a %s message (text, tool_use in assistant messages, tool_result in user messages)", bparam, b.Type, m.Role)
			}
		}
		if m.Role == "assistant" {
			msg := map[string]json.RawMessage{"role": rawJSON("assistant"), "content": rawJSON(text.String())}
			if calls != nil {
				msg["tool_calls"] = rawJSON(calls)
			}
			msgs = append(msgs, msg)
		} else if text.Len() > 0 || len(blocks) == 0 {
			msgs = append(msgs, map[string]json.RawMessage{"role": rawJSON("user"), "content": rawJSON(text.String())})
		}
	}
	c.Messages = msgs
	for i, raw := range a.Tools {
		var t struct {
			Name        string `json:"name"`
			Description string `json:"description"`
			InputSchema any    `json:"input_schema"`
			Type        string `json:"type"`
		}
		if json.Unmarshal(raw, &t) != nil || t.Name == "" || (t.Type != "" && t.Type != "custom") {
			return nil, badRequest(fmt.Sprintf("tools[%d]", i), "tools.%d: each tool must be {\"name\", \"description\", \"input_schema\"}", i)
		}
		fn := map[string]any{"name": t.Name, "parameters": t.InputSchema}
		if t.Description != "" {
			fn["description"] = t.Description
		}
		c.Tools = append(c.Tools, rawJSON(map[string]any{"type": "function", "function": fn}))
	}
	if len(a.ToolChoice) > 0 && string(a.ToolChoice) != "null" {
		var tc struct {
			Type                   string `json:"type"`
			Name                   string `json:"name"`
			DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
		}
		if json.Unmarshal(a.ToolChoice, &tc) != nil {
			return nil, badRequest("tool_choice", "tool_choice: must be {\"type\": \"auto\"|\"any\"|\"tool\"|\"none\"}")
		}
		switch tc.Type {
		case "auto", "none":
			c.ToolChoice = tc.Type
		case "any":
			c.ToolChoice = "required"
		case "tool":
			c.ToolChoice = map[string]any{"type": "function", "function": map[string]any{"name": tc.Name}}
		default:
			return nil, badRequest("tool_choice", "tool_choice.type: must be \"auto\", \"any\", \"tool\" or \"none\", got %q", tc.Type)
		}
		if tc.DisableParallelToolUse {
			f := false
			c.ParallelToolCalls = &f
		}
	}
	return c, nil
}

// writeAnthropicError answers with Anthropic's error shape.
func writeAnthropicError(w http.ResponseWriter, status int, message string) {
	typ := "api_error"
	switch status {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusMethodNotAllowed:
		typ = "invalid_request_error"
	case http.StatusUnauthorized:
		typ = "authentication_error"
	case http.StatusForbidden:
		typ = "permission_error"
	case http.StatusNotFound:
		typ = "not_found_error"
	case http.StatusRequestEntityTooLarge:
		typ = "request_too_large"
	case http.StatusTooManyRequests:
		typ = "rate_limit_error"
	case http.StatusServiceUnavailable:
		typ = "overloaded_error"
	}
	writeJSON(w, status, map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": message}})
}

func (e *requestError) writeAnthropic(w http.ResponseWriter) {
	msg := e.message
	if e.status == http.StatusNotFound && e.param == "model" {
		msg = fmt.Sprintf("model: %s (this server serves only its own model)", e.message)
	}
	writeAnthropicError(w, e.status, msg)
}

func (srv *Server) messages(w http.ResponseWriter, r *http.Request) {
	var body anthropicRequest
	if err := decode(w, r, srv.opts.MaxBodyBytes, &body); err != nil {
		err.writeAnthropic(w)
		return
	}
	c, err := body.toChat()
	if err != nil {
		err.writeAnthropic(w)
		return
	}
	g := &generation{chat: true, id: newID("msg_"), promptParam: "messages", stream: body.Stream}
	if err := srv.prepareChat(r, c, g); err != nil {
		err.writeAnthropic(w)
		return
	}
	if n, limit := len(g.req.PromptIDs), srv.sched.Context(); n > limit {
		badRequest("messages", "prompt is too long: %d tokens > %d maximum", n, limit).writeAnthropic(w)
		return
	}
	if g.stream {
		srv.messagesStream(w, r, g)
		return
	}
	res, serr := srv.sched.Submit(r.Context(), g.req, func(t engine.Token) error {
		g.answer.add(srv, t)
		return nil
	})
	if serr != nil {
		srv.anthropicSubmitError(w, r, g, serr)
		return
	}
	noteTokens(r, len(res.PromptIDs), len(res.GeneratedIDs))
	g.answer.finish()
	m := toolcall.Collect(g.answer.events)
	var content []any
	if m.Reasoning != "" {
		content = append(content, map[string]any{"type": "thinking", "thinking": m.Reasoning, "signature": ""})
	}
	if len(m.Calls) == 0 || strings.TrimSpace(m.Content) != "" {
		content = append(content, map[string]any{"type": "text", "text": m.Content})
	}
	for i, call := range m.Calls {
		content = append(content, map[string]any{"type": "tool_use", "id": toolUseID(g.answer.ids[i]), "name": call.Name, "input": callInput(call.Arguments)})
	}
	reason, seq := anthropicStop(srv.m.Tokenizer(), g, res)
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(srv.opts.WriteTimeout))
	writeJSON(w, http.StatusOK, map[string]any{
		"id": g.id, "type": "message", "role": "assistant", "model": srv.opts.ModelID, "content": content,
		"stop_reason": reason, "stop_sequence": seq,
		"usage": map[string]any{"input_tokens": len(res.PromptIDs), "output_tokens": len(res.GeneratedIDs)},
	})
}

// toolUseID is a call's id in Anthropic's style.
func toolUseID(id string) string { return "toolu_" + strings.TrimPrefix(id, "call_") }

// callInput is a call's arguments as the JSON object of a tool_use block.
func callInput(args string) json.RawMessage {
	var obj map[string]any
	if json.Unmarshal([]byte(args), &obj) != nil {
		return json.RawMessage("{}")
	}
	return json.RawMessage(args)
}

// anthropicStop is the answer's stop_reason and stop_sequence: the stop
// string is the one the generated tokens go on with after the answer's text.
func anthropicStop(tok *tokenizer.Tokenizer, g *generation, res *engine.Result) (string, any) {
	switch {
	case g.answer.calls() > 0:
		return "tool_use", nil
	case res.StopReason == "length" || res.StopReason == "context":
		return "max_tokens", nil
	case res.StopReason == "stop":
		if len(g.req.Stop) == 1 {
			return "stop_sequence", g.req.Stop[0]
		}
		full := tok.Decode(res.GeneratedIDs)
		if rest, ok := strings.CutPrefix(full, res.Text); ok {
			for _, s := range g.req.Stop {
				if strings.HasPrefix(rest, s) {
					return "stop_sequence", s
				}
			}
		}
		return "stop_sequence", nil
	}
	return "end_turn", nil
}

// anthropicSubmitError is writeSubmitError in Anthropic's shape.
func (srv *Server) anthropicSubmitError(w http.ResponseWriter, r *http.Request, g *generation, err error) {
	switch {
	case errors.Is(err, engine.ErrQueueFull):
		srv.rejected.Add(1)
		w.Header().Set("Retry-After", fmt.Sprint(int((srv.opts.RetryAfter+time.Second-1)/time.Second)))
		writeAnthropicError(w, http.StatusServiceUnavailable, "the server is busy: every sequence is generating and the queue is full; retry later")
	case errors.Is(err, engine.ErrClosed):
		writeAnthropicError(w, http.StatusServiceUnavailable, "the server is shutting down")
	case errors.Is(err, engine.ErrPromptTooLong):
		writeAnthropicError(w, http.StatusBadRequest, err.Error())
	case r.Context().Err() != nil || errors.Is(err, context.Canceled):
	default:
		srv.failed.Add(1)
		srv.logf("%s: %v", g.id, err)
		writeAnthropicError(w, http.StatusInternalServerError, err.Error())
	}
}

// messagesStream answers with Anthropic's events: message_start, for each
// content block content_block_start, its deltas (text_delta, thinking_delta,
// input_json_delta) and content_block_stop, then message_delta (stop_reason,
// usage) and message_stop.
func (srv *Server) messagesStream(w http.ResponseWriter, r *http.Request, g *generation) {
	rc := http.NewResponseController(w)
	started := false
	event := func(name string, v any) error {
		_ = rc.SetWriteDeadline(time.Now().Add(srv.opts.WriteTimeout))
		b, err := marshal(v)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b); err != nil {
			return err
		}
		return rc.Flush()
	}
	start := func() error {
		if started {
			return nil
		}
		started = true
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		return event("message_start", map[string]any{"type": "message_start", "message": map[string]any{
			"id": g.id, "type": "message", "role": "assistant", "model": srv.opts.ModelID, "content": []any{},
			"stop_reason": nil, "stop_sequence": nil,
			"usage": map[string]any{"input_tokens": len(g.req.PromptIDs), "output_tokens": 0}}})
	}
	block, kind := -1, "" // the open content block
	closeBlock := func() error {
		if kind == "" {
			return nil
		}
		kind = ""
		return event("content_block_stop", map[string]any{"type": "content_block_stop", "index": block})
	}
	open := func(k string, cb map[string]any) error {
		if err := closeBlock(); err != nil {
			return err
		}
		block, kind = block+1, k
		return event("content_block_start", map[string]any{"type": "content_block_start", "index": block, "content_block": cb})
	}
	delta := func(d map[string]any) error {
		return event("content_block_delta", map[string]any{"type": "content_block_delta", "index": block, "delta": d})
	}
	emit := func(evs []toolcall.Event) error {
		if err := start(); err != nil {
			return err
		}
		for _, e := range evs {
			var err error
			switch e.Kind {
			case toolcall.Reasoning:
				if kind != "thinking" {
					if err = open("thinking", map[string]any{"type": "thinking", "thinking": "", "signature": ""}); err != nil {
						return err
					}
				}
				err = delta(map[string]any{"type": "thinking_delta", "thinking": e.Text})
			case toolcall.CallStart:
				err = open("tool_use", map[string]any{"type": "tool_use", "id": toolUseID(g.answer.ids[e.Index]), "name": e.Name, "input": map[string]any{}})
			case toolcall.CallArgs:
				err = delta(map[string]any{"type": "input_json_delta", "partial_json": e.Text})
			default:
				if kind != "text" {
					if kind == "" && strings.TrimSpace(e.Text) == "" && g.answer.calls() > 0 {
						continue // whitespace between calls
					}
					if err = open("text", map[string]any{"type": "text", "text": ""}); err != nil {
						return err
					}
				}
				err = delta(map[string]any{"type": "text_delta", "text": e.Text})
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	var sendErr error
	res, err := srv.sched.Submit(r.Context(), g.req, func(t engine.Token) error {
		if evs := g.answer.add(srv, t); len(evs) > 0 {
			sendErr = emit(evs)
		}
		return sendErr
	})
	if err != nil {
		if !started {
			srv.anthropicSubmitError(w, r, g, err)
			return
		}
		if sendErr == nil && r.Context().Err() == nil {
			srv.failed.Add(1)
			srv.logf("%s: %v", g.id, err)
			_ = event("error", map[string]any{"type": "error", "error": map[string]any{"type": "api_error", "message": err.Error()}})
		}
		return
	}
	noteTokens(r, len(res.PromptIDs), len(res.GeneratedIDs))
	if emit(g.answer.finish()) != nil {
		return
	}
	if block < 0 { // an empty answer still has its text block
		if open("text", map[string]any{"type": "text", "text": ""}) != nil {
			return
		}
	}
	if closeBlock() != nil {
		return
	}
	reason, seq := anthropicStop(srv.m.Tokenizer(), g, res)
	if event("message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": reason, "stop_sequence": seq},
		"usage": map[string]any{"output_tokens": len(res.GeneratedIDs)}}) != nil {
		return
	}
	_ = event("message_stop", map[string]any{"type": "message_stop"})
}
