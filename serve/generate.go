package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/conveyor-llm/conveyor/engine"
)

// generation is one accepted request on its way to the scheduler.
type generation struct {
	req          engine.Request
	chat         bool // chat.completion objects rather than text_completion
	stream       bool
	includeUsage bool
	id           string
	created      int64
	promptParam  string         // "messages" or "prompt", for errors about the prompt
	toks         []engine.Token // with logprobs: the tokens not yet answered
	offset       int            // streamed: the text_offset of toks[0]
	answer       *answer        // chat: the answer's content, reasoning and tool calls (tools.go)
	index        int            // the choice's index, with n > 1
	echo         string         // completions with echo: the prompt, before the text
}

func (srv *Server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	var body chatRequest
	if err := decode(w, r, srv.opts.MaxBodyBytes, &body); err != nil {
		err.write(w)
		return
	}
	g := &generation{chat: true, id: newID("chatcmpl-"), promptParam: "messages"}
	if err := srv.prepareChat(r, &body, g); err != nil {
		err.write(w)
		return
	}
	srv.run(w, r, g, &body.params)
}

// prepareChat checks a chat request and renders its prompt into g.
func (srv *Server) prepareChat(r *http.Request, body *chatRequest, g *generation) *requestError {
	if err := body.check(srv.opts.ModelID, srv.m.Tokenizer().VocabSize(), -1, srv.opts.MaxTokens, &g.req); err != nil {
		return err
	}
	if body.Messages == nil {
		return badRequest("messages", "'messages' is required")
	}
	msgs, merr := chatMessages(body.Messages)
	if merr != nil {
		return merr
	}
	if srv.opts.ChatTemplate == "" {
		return badRequest("messages", "this server has no chat template: start it with --chat-template NAME|FILE, or use /v1/completions")
	}
	if g.answer, merr = srv.setupAnswer(body, &g.req); merr != nil {
		return merr
	}
	toolMessages(msgs)
	var tools []any
	for _, t := range body.Tools {
		tools = append(tools, t)
	}
	text, ids, perr := srv.fitChat(r.Context(), msgs, tools, body.TemplateKwargs)
	if perr != nil {
		return perr
	}
	if body.NKeep == nil && srv.sched.ContextShift() {
		g.req.Keep = srv.systemPromptKeep(r.Context(), msgs, tools, body.TemplateKwargs, ids)
	}
	g.req.PromptIDs = ids
	g.answer.start(text)
	return nil
}

func (srv *Server) completions(w http.ResponseWriter, r *http.Request) {
	var body completionRequest
	if err := decode(w, r, srv.opts.MaxBodyBytes, &body); err != nil {
		err.write(w)
		return
	}
	g := &generation{id: newID("cmpl-"), promptParam: "prompt"}
	if err := body.check(srv.opts.ModelID, srv.m.Tokenizer().VocabSize(), 16, srv.opts.MaxTokens, &g.req); err != nil { // 16: OpenAI's default for this endpoint
		err.write(w)
		return
	}
	if body.Echo && g.req.Logprobs {
		// OpenAI gives the prompt's logprobs too; the engine does not keep
		// the prompt's logits.
		badRequest("echo", "'echo' with 'logprobs' is not supported: this server does not compute the prompt's logprobs").write(w)
		return
	}
	if body.Suffix != nil && *body.Suffix != "" {
		badRequest("suffix", "suffix is not supported").write(w)
		return
	}
	text, ids, perr := completionPrompt(body.Prompt)
	if perr != nil {
		perr.write(w)
		return
	}
	if ids != nil {
		vocab := int32(srv.m.Tokenizer().VocabSize())
		for _, id := range ids {
			if id < 0 || id >= vocab {
				badRequest("prompt", "token id %d is outside the vocabulary (0 to %d)", id, vocab-1).write(w)
				return
			}
		}
		g.req.PromptIDs = ids
		text = srv.m.Tokenizer().Decode(ids)
	} else {
		if g.req.PromptIDs, perr = srv.encodeWithin(text, g.promptParam); perr != nil {
			perr.write(w)
			return
		}
	}
	if body.Echo {
		g.echo = text
	}
	srv.run(w, r, g, &body.params)
}

// encode tokenizes a prompt as the engine does (BOS as the vocabulary asks,
// special tokens parsed), dropping a BOS the text itself began with when the
// vocabulary adds one too, as a chat template that writes bos_token does. A
// prompt of more than limit tokens is refused (ok false) as soon as that is
// seen, so that a huge one costs no more than the limit.
func (srv *Server) encode(text string, limit int) (ids []int32, ok bool) {
	tok := srv.m.Tokenizer()
	ids, err := tok.EncodeLimit(text, true, true, limit+1) // one more: a doubled BOS goes
	if err != nil {
		return nil, false
	}
	if bos := tok.BOS(); bos >= 0 && len(ids) >= 2 && ids[0] == bos && ids[1] == bos {
		ids = ids[1:]
	}
	if len(ids) == 0 && tok.BOS() >= 0 {
		ids = []int32{tok.BOS()}
	}
	return ids, len(ids) <= limit
}

// encodeWithin is encode for a prompt that must fit the context: a text longer
// than the context could hold even if every token were the vocabulary's
// longest is refused by its length, before it is tokenized; the rest stops
// being tokenized once it is over.
func (srv *Server) encodeWithin(text, param string) ([]int32, *requestError) {
	limit := srv.sched.Context()
	if len(text)/srv.maxTokenBytes > limit {
		e := badRequest(param, "This model's maximum context length is %d tokens, but the prompt is %d bytes, more than %d tokens (of at most %d bytes each) can hold; shorten it or start the server with a larger -c",
			limit, len(text), limit, srv.maxTokenBytes)
		e.code = "context_length_exceeded"
		return nil, e
	}
	ids, ok := srv.encode(text, limit)
	if !ok {
		e := badRequest(param, "This model's maximum context length is %d tokens, but the prompt is more; shorten it or start the server with a larger -c", limit)
		e.code = "context_length_exceeded"
		return nil, e
	}
	return ids, nil
}

// run submits g's choices (n of them, run together) and answers with their
// results, streamed or whole.
func (srv *Server) run(w http.ResponseWriter, r *http.Request, g *generation, p *params) {
	g.stream = p.Stream
	g.includeUsage = p.StreamOptions != nil && p.StreamOptions.IncludeUsage
	g.created = time.Now().Unix()
	if n, limit := len(g.req.PromptIDs), srv.sched.Context(); n > limit {
		e := badRequest(g.promptParam, "This model's maximum context length is %d tokens, but the prompt has %d tokens; shorten it or start the server with a larger -c", limit, n)
		e.code = "context_length_exceeded"
		e.write(w)
		return
	}
	if len(g.req.PromptIDs) == 0 {
		badRequest(g.promptParam, "the prompt is empty and the vocabulary has no BOS token to start from").write(w)
		return
	}
	if g.req.MaxTokens < 0 && srv.sched.ContextShift() {
		// A sequence that shifts its context never runs out of room: without
		// a limit, a model that never ends its answer would go on forever.
		g.req.MaxTokens = srv.sched.Context()
	}
	n := 1
	if p.N != nil {
		n = *p.N
	}
	gs := g.choices(n)
	if g.stream {
		srv.runStream(w, r, g, gs)
		return
	}
	res, err := srv.submitAll(r.Context(), gs, func(c *generation, t engine.Token) error {
		if c.req.Logprobs {
			c.toks = append(c.toks, t)
		}
		if c.answer != nil {
			c.answer.add(srv, t)
		}
		return nil
	}, nil)
	if err != nil {
		srv.writeSubmitError(w, r, g, err)
		return
	}
	u := usage(res)
	noteTokens(r, u["prompt_tokens"].(int), u["completion_tokens"].(int))
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(srv.opts.WriteTimeout))
	choices := make([]any, n)
	for i, c := range gs {
		choice := map[string]any{"index": i, "logprobs": srv.logprobsOf(c, c.toks, 0), "finish_reason": finishReason(res[i].StopReason)}
		if c.chat {
			c.answer.finish()
			choice["message"] = c.answer.message()
			if c.answer.calls() > 0 {
				choice["finish_reason"] = "tool_calls"
			}
		} else {
			choice["text"] = c.echo + res[i].Text
		}
		choices[i] = choice
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": g.id, "object": g.object(false), "created": g.created, "model": srv.opts.ModelID,
		"choices": choices, "usage": u,
	})
}

// maxChoices bounds n, the choices one request may ask for.
const maxChoices = 16

// choices are g's n choices: copies of g whose seeds are g's seed plus their
// index, so that choice i is the answer the request alone would get with
// seed + i.
func (g *generation) choices(n int) []*generation {
	out := make([]*generation, n)
	for i := range out {
		c := *g
		c.index = i
		c.req.Sampling.Seed = g.req.Sampling.Seed + uint64(i)
		if g.answer != nil {
			c.answer = g.answer.fresh()
		}
		out[i] = &c
	}
	return out
}

// submitAll submits gs to the scheduler together, calling emit for each
// token of each (under one lock, so never at once) and done, when not nil,
// as each ends well (under the lock too). The first error cancels the others
// and is returned: the one that caused the others, not their cancellation.
func (srv *Server) submitAll(ctx context.Context, gs []*generation, emit func(*generation, engine.Token) error, done func(*generation, *engine.Result) error) ([]*engine.Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	res := make([]*engine.Result, len(gs))
	errs := make([]error, len(gs))
	var wg sync.WaitGroup
	for i, c := range gs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := srv.sched.Submit(ctx, c.req, func(t engine.Token) error {
				mu.Lock()
				defer mu.Unlock()
				return emit(c, t)
			})
			if err == nil && done != nil {
				mu.Lock()
				err = done(c, r)
				mu.Unlock()
			}
			res[i], errs[i] = r, err
			if err != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	var first error
	for _, err := range errs {
		if err != nil && (first == nil || errors.Is(first, context.Canceled) && !errors.Is(err, context.Canceled)) {
			first = err
		}
	}
	return res, first
}

func (g *generation) object(chunk bool) string {
	switch {
	case g.chat && chunk:
		return "chat.completion.chunk"
	case g.chat:
		return "chat.completion"
	}
	return "text_completion"
}

func finishReason(stop string) string {
	switch stop {
	case "length", "context":
		return "length"
	}
	return "stop" // "eog" and "stop"
}

// usage counts the prompt once and the completion tokens of every choice.
func usage(res []*engine.Result) map[string]any {
	prompt, completion := len(res[0].PromptIDs), 0
	for _, r := range res {
		completion += len(r.GeneratedIDs)
	}
	return map[string]any{
		"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
		"prompt_tokens_details": map[string]int{"cached_tokens": res[0].Stats.ReusedTokens},
	}
}

// runStream answers with server-sent events: a chunk per piece of text
// (each naming its choice's index), one with each choice's finish reason,
// optionally one with the usage, then [DONE]. The headers go out with the
// first chunk, so that a request refused before it ran (a full queue, say)
// still gets its own status.
func (srv *Server) runStream(w http.ResponseWriter, r *http.Request, g *generation, gs []*generation) {
	rc := http.NewResponseController(w)
	started := false
	send := func(v any) error { // under submitAll's lock
		_ = rc.SetWriteDeadline(time.Now().Add(srv.opts.WriteTimeout))
		if !started {
			started = true
			h := w.Header()
			h.Set("Content-Type", "text/event-stream")
			h.Set("Cache-Control", "no-cache")
			h.Set("X-Accel-Buffering", "no")
			w.WriteHeader(http.StatusOK)
			for _, c := range gs {
				var first any
				switch {
				case c.chat: // the first chunk names the role
					first = c.chunk(srv.opts.ModelID, map[string]any{"role": "assistant", "content": ""}, nil, c.includeUsage)
				case c.echo != "":
					first = c.chunk(srv.opts.ModelID, c.echo, nil, c.includeUsage)
				default:
					continue
				}
				if err := srv.writeEvent(w, first); err != nil {
					return err
				}
			}
		}
		if v != nil {
			if err := srv.writeEvent(w, v); err != nil {
				return err
			}
		}
		return rc.Flush()
	}
	var sendErr error // a failed write: the client has gone
	res, err := srv.submitAll(r.Context(), gs, func(c *generation, t engine.Token) error {
		if c.req.Logprobs {
			c.toks = append(c.toks, t)
		}
		if c.answer != nil {
			for _, e := range c.answer.add(srv, t) {
				if sendErr = send(srv.withLogprobs(c, c.chunk(srv.opts.ModelID, c.answer.delta(e), nil, c.includeUsage))); sendErr != nil {
					return sendErr
				}
			}
			return nil
		}
		if t.Text == "" {
			return nil
		}
		sendErr = send(srv.withLogprobs(c, c.chunk(srv.opts.ModelID, t.Text, nil, c.includeUsage)))
		return sendErr
	}, func(c *generation, res *engine.Result) error {
		reason := finishReason(res.StopReason)
		if c.answer != nil {
			for _, e := range c.answer.finish() {
				if sendErr = send(srv.withLogprobs(c, c.chunk(srv.opts.ModelID, c.answer.delta(e), nil, c.includeUsage))); sendErr != nil {
					return sendErr
				}
			}
			if c.answer.calls() > 0 {
				reason = "tool_calls"
			}
		}
		sendErr = send(srv.withLogprobs(c, c.chunk(srv.opts.ModelID, nil, &reason, c.includeUsage)))
		return sendErr
	})
	if err != nil {
		if !started {
			srv.writeSubmitError(w, r, g, err)
			return
		}
		if sendErr == nil && r.Context().Err() == nil {
			srv.failed.Add(1)
			srv.logf("%s: %v", g.id, err)
			_ = srv.writeEvent(w, map[string]any{"error": apiError{Message: err.Error(), Type: "server_error"}})
			_ = rc.Flush()
		}
		return
	}
	u := usage(res)
	noteTokens(r, u["prompt_tokens"].(int), u["completion_tokens"].(int))
	if g.includeUsage {
		if send(map[string]any{"id": g.id, "object": g.object(true), "created": g.created, "model": srv.opts.ModelID,
			"choices": []any{}, "usage": u}) != nil {
			return
		}
	}
	_ = rc.SetWriteDeadline(time.Now().Add(srv.opts.WriteTimeout))
	if _, err := fmt.Fprint(w, "data: [DONE]\n\n"); err == nil {
		_ = rc.Flush()
	}
}

// chunk is one streamed object: content is the new text (a string), the
// chat delta itself (a map), or nil for the final chunk with its reason.
func (g *generation) chunk(model string, content any, reason *string, withUsage bool) map[string]any {
	choice := map[string]any{"index": g.index, "logprobs": nil, "finish_reason": reason}
	if g.chat {
		switch c := content.(type) {
		case string:
			choice["delta"] = map[string]any{"content": c}
		case map[string]any:
			choice["delta"] = c
		default:
			choice["delta"] = map[string]any{}
		}
	} else {
		text, _ := content.(string)
		choice["text"] = text
	}
	out := map[string]any{"id": g.id, "object": g.object(true), "created": g.created, "model": model, "choices": []any{choice}}
	if withUsage {
		out["usage"] = nil
	}
	return out
}

func (srv *Server) writeEvent(w http.ResponseWriter, v any) error {
	b, err := marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "data: %s\n\n", b)
	return err
}

// writeSubmitError answers a request that the scheduler refused or that failed
// before its first token.
func (srv *Server) writeSubmitError(w http.ResponseWriter, r *http.Request, g *generation, err error) {
	switch {
	case errors.Is(err, engine.ErrQueueFull):
		srv.rejected.Add(1)
		w.Header().Set("Retry-After", strconv.Itoa(int((srv.opts.RetryAfter+time.Second-1)/time.Second)))
		writeError(w, http.StatusServiceUnavailable, "server_error", "", "queue_full",
			"the server is busy: every sequence is generating and the queue is full; retry later")
	case errors.Is(err, engine.ErrClosed):
		w.Header().Set("Retry-After", strconv.Itoa(int((srv.opts.RetryAfter+time.Second-1)/time.Second)))
		writeError(w, http.StatusServiceUnavailable, "server_error", "", "shutting_down", "the server is shutting down")
	case errors.Is(err, engine.ErrPromptTooLong):
		writeError(w, http.StatusBadRequest, "invalid_request_error", g.promptParam, "context_length_exceeded", err.Error())
	case r.Context().Err() != nil || errors.Is(err, context.Canceled):
		// The client has gone; nobody reads an answer.
	default:
		srv.failed.Add(1)
		srv.logf("%s: %v", g.id, err)
		writeError(w, http.StatusInternalServerError, "server_error", "", "", err.Error())
	}
}
