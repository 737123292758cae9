package serve

import "context"

// Long conversations. When the scheduler shifts full sequences
// (engine.SchedulerOptions.ContextShift, on unless serve --no-context-shift),
// a chat whose prompt does not fit the context drops its oldest turns after
// the system prompt, as few as it must, instead of being refused; the system
// prompt is then what a shift during generation keeps, and what the KV cache
// of the conversation's earlier requests still holds.

// fitChat renders msgs into the prompt's text and ids, within the context.
// With context shifts, a conversation too long for it loses its oldest turns
// (a user message and the messages up to the next one), as few as leave room
// for one token of answer (a longer answer shifts the context as it goes);
// the last user turn is always kept.
func (srv *Server) fitChat(ctx context.Context, msgs []map[string]any, tools []any, kwargs map[string]any) (string, []int32, *requestError) {
	limit := srv.sched.Context()
	turns := userTurns(msgs)
	try := func(drop int) (string, []int32, *requestError) {
		kept := msgs
		if drop > 0 {
			kept = append(append([]map[string]any{}, msgs[:turns[0]]...), msgs[turns[drop]:]...)
		}
		text, err := srv.renderChat(ctx, kept, tools, kwargs)
		if err != nil {
			return "", nil, badRequest("messages", "rendering the chat template: %v", err)
		}
		ids, perr := srv.encodeWithin(text, "messages")
		return text, ids, perr
	}
	tooLong := func(err *requestError) bool { return err != nil && err.code == "context_length_exceeded" }
	text, ids, err := try(0)
	last := len(turns) - 1 // the turns that may be dropped
	if !srv.sched.ContextShift() || last < 1 || (err == nil && len(ids) < limit) || (err != nil && !tooLong(err)) {
		return text, ids, err
	}
	text, ids, err = try(last)
	switch {
	case tooLong(err):
		err = badRequest("messages", "This model's maximum context length is %d tokens, but the system prompt and the last turn are more, even with the %d earlier turns dropped; shorten them or start the server with a larger -c",
			limit, last)
		err.code = "context_length_exceeded"
		return "", nil, err
	case err != nil || len(ids) >= limit:
		return text, ids, err
	}
	// The fewest turns to drop (more dropped, a shorter prompt): it fits
	// with hi dropped (text and ids are its prompt), not with lo-1.
	lo, hi := 1, last
	for lo < hi {
		mid := (lo + hi) / 2
		t, i, e := try(mid)
		if e != nil && !tooLong(e) {
			return "", nil, e
		}
		if e == nil && len(i) < limit {
			hi, text, ids = mid, t, i
		} else {
			lo = mid + 1
		}
	}
	return text, ids, nil
}

// userTurns is where each turn of a conversation begins: the index of each
// user message after the first message (which stays, as the system prompt
// does, when it is one; otherwise it begins the first turn).
func userTurns(msgs []map[string]any) []int {
	var turns []int
	first := 0
	if len(msgs) > 0 && (msgs[0]["role"] == "system" || msgs[0]["role"] == "developer") {
		first = 1
	}
	turns = append(turns, first)
	for i := first + 1; i < len(msgs); i++ {
		if msgs[i]["role"] == "user" {
			turns = append(turns, i)
		}
	}
	return turns
}

// systemPromptKeep is how many tokens at the start of a chat's prompt ids
// (besides BOS) a context shift keeps: the system prompt's, when the
// conversation begins with one, as far as the template renders it alone the
// same; else none.
func (srv *Server) systemPromptKeep(ctx context.Context, msgs []map[string]any, tools []any, kwargs map[string]any, ids []int32) int {
	if userTurns(msgs)[0] == 0 {
		return 0
	}
	text, err := srv.render(ctx, msgs[:1], tools, kwargs, false)
	if err != nil { // a template that wants a user message
		return 0
	}
	system, ok := srv.encode(text, len(ids))
	if !ok {
		return 0
	}
	n := 0
	for n < len(system) && n < len(ids) && system[n] == ids[n] {
		n++
	}
	if bos := srv.m.Tokenizer().BOS(); n > 0 && ids[0] == bos {
		n--
	}
	return n
}
