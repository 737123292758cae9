package serve

import (
	"context"
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/chat"
	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/engine/runopts"
)

// conversation is a system prompt and turns of a user and an assistant
// message each, then a last user message.
func conversation(turns int) []map[string]any {
	msgs := []map[string]any{{"role": "system", "content": "Tell a story."}}
	for i := range turns {
		msgs = append(msgs,
			map[string]any{"role": "user", "content": []string{"Once upon a time", "The cat sat", "Lily and Tom", "The sun was", "A big dog"}[i%5]},
			map[string]any{"role": "assistant", "content": "there was a little girl."})
	}
	return append(msgs, map[string]any{"role": "user", "content": "What next?"})
}

// withoutTurns is msgs with its first n turns after the system prompt dropped.
func withoutTurns(msgs []map[string]any, n int) []map[string]any {
	return append([]map[string]any{msgs[0]}, msgs[1+2*n:]...)
}

// A chat longer than the context drops its oldest turns after the system
// prompt, the fewest that make room, and is answered as the shorter chat is
// alone; the system prompt stays in the cache from the request before.
// Without context shifts it is refused.
func TestChatDropsOldestTurnsToFit(t *testing.T) {
	const ctxLen = 256
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 1, Context: ctxLen, ContextShift: true})
	tmpl, err := chat.Resolve(s.m.File(), "chatml")
	require.NoError(t, err)
	h := New(s.m, s.sched, Options{ChatTemplate: tmpl})
	promptIDs := func(msgs []map[string]any) []int32 {
		text, err := h.renderChat(t.Context(), msgs, nil, nil)
		require.NoError(t, err)
		ids, _ := h.encode(text, 1<<20)
		return ids
	}
	promptLen := func(msgs []map[string]any) int { return len(promptIDs(msgs)) }
	long := conversation(6)
	require.Greater(t, promptLen(long), ctxLen, "make the conversation longer")
	drop := 1
	for promptLen(withoutTurns(long, drop)) >= ctxLen {
		drop++
	}
	require.Less(t, drop, 6)

	short := withoutTurns(long, drop)
	alone := s.complete(t, "/v1/chat/completions", map[string]any{"messages": short, "max_tokens": 6, "temperature": 0})
	got := s.complete(t, "/v1/chat/completions", map[string]any{"messages": long, "max_tokens": 6, "temperature": 0})
	require.Equal(t, alone.text(), got.text())
	require.Equal(t, alone.Usage.PromptTokens, got.Usage.PromptTokens)

	// The conversation one turn on drops more, and reuses its system prompt
	// from the cache (and all the turns both still hold).
	system := h.systemPromptKeep(t.Context(), long, nil, nil, promptIDs(long))
	text, err := h.render(t.Context(), long[:1], nil, nil, false)
	require.NoError(t, err)
	require.Equal(t, "<|im_start|>system\nTell a story.<|im_end|>\n", text)
	require.Equal(t, len(s.m.Tokenizer().Encode(text, false, true)), system, "the system prompt's tokens, BOS not counted")
	next := append(append([]map[string]any{}, long...),
		map[string]any{"role": "assistant", "content": got.text()}, map[string]any{"role": "user", "content": "And then?"})
	again := s.complete(t, "/v1/chat/completions", map[string]any{"messages": next, "max_tokens": 6, "temperature": 0})
	require.Less(t, again.Usage.PromptTokens, ctxLen)
	require.GreaterOrEqual(t, again.Usage.PromptTokensDetails.CachedTokens, system+1)

	// Too long even with every earlier turn dropped: refused.
	huge := withoutTurns(long, 0)
	huge[len(huge)-1] = map[string]any{"role": "user", "content": strings.Repeat("Tom ", ctxLen)}
	status, _, out := s.post(t, "/v1/chat/completions", map[string]any{"messages": huge, "max_tokens": 6})
	require.Equal(t, http.StatusBadRequest, status, "%s", out)
	requireAPIError(t, out, "invalid_request_error", "messages", "context_length_exceeded")

	// Without context shifts, the long chat is refused as before.
	off := startServer(t, s.m, engine.SchedulerOptions{Parallel: 1, Context: ctxLen})
	status, _, out = off.post(t, "/v1/chat/completions", map[string]any{"messages": long, "max_tokens": 6})
	require.Equal(t, http.StatusBadRequest, status, "%s", out)
	requireAPIError(t, out, "invalid_request_error", "messages", "context_length_exceeded")
}

// An answer that runs into the end of the context goes on past it, the
// context shifted; the request's n_keep is kept; a request without
// max_tokens stops after a context's worth of tokens. Without context
// shifts a full context ends the answer ("length").
func TestGenerationShiftsAFullContext(t *testing.T) {
	const ctxLen = 64
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 2, Context: ctxLen, ContextShift: true})
	body := completionBody("Once upon a time", map[string]any{"max_tokens": 150, "ignore_eos": true, "n_keep": 2})
	c := s.complete(t, "/v1/completions", body)
	require.Equal(t, "length", *c.Choices[0].FinishReason)
	require.Equal(t, 150, c.Usage.CompletionTokens)

	// The same as a Session that shifts with the same Keep.
	sess, err := s.m.NewSession(engine.SessionOptions{Context: ctxLen, ContextShift: true})
	require.NoError(t, err)
	defer sess.Close()
	sampling := runopts.DefaultSampling()
	sampling.Temperature = 0
	res, err := sess.Generate(context.Background(), engine.Request{Prompt: "Once upon a time", MaxTokens: 150, IgnoreEOS: true, Keep: 2, Sampling: sampling}, nil)
	require.NoError(t, err)
	require.Equal(t, res.Text, c.text())
	require.Positive(t, res.Stats.ContextShifts)
	status, _, metrics := s.get(t, "/metrics")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, string(metrics), "conveyor_context_shifts_total ")
	require.NotContains(t, string(metrics), "conveyor_context_shifts_total 0\n")

	unbounded := s.complete(t, "/v1/chat/completions", chatBody("Hi", map[string]any{"ignore_eos": true}))
	require.Equal(t, ctxLen, unbounded.Usage.CompletionTokens)
	require.Equal(t, "length", *unbounded.Choices[0].FinishReason)

	status, _, out := s.post(t, "/v1/completions", completionBody("Hi", map[string]any{"n_keep": -2}))
	require.Equal(t, http.StatusBadRequest, status, "%s", out)
	requireAPIError(t, out, "invalid_request_error", "n_keep", "")

	off := startServer(t, s.m, engine.SchedulerOptions{Parallel: 1, Context: ctxLen})
	c = off.complete(t, "/v1/completions", body)
	require.Equal(t, "length", *c.Choices[0].FinishReason)
	require.Less(t, c.Usage.CompletionTokens, ctxLen)
}

// A prompt that the length bound lets through (a vocabulary with a long
// token, as some have) stops being tokenized once it is over the context:
// 15 MB cost what the context's tokens do, not the whole text's.
func TestLongPromptStopsTokenizingAtTheContext(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 1, Context: 256})
	h := New(s.m, s.sched, Options{})
	h.maxTokenBytes = 1 << 30 // no bound by length
	huge := strings.Repeat("Once upon a time there was a cat. ", 15<<20/34)
	allocated := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	var perr *requestError
	bounded := allocated(func() { _, perr = h.encodeWithin(huge, "prompt") })
	require.NotNil(t, perr)
	require.Equal(t, "context_length_exceeded", perr.code)
	require.Less(t, bounded, uint64(1<<20))
	if !testing.Short() {
		whole := allocated(func() { s.m.Tokenizer().Encode(huge, true, true) })
		t.Logf("a 15 MB prompt against a context of 256: %.1f KiB allocated (tokenizing it whole: %.1f MiB)", float64(bounded)/1024, float64(whole)/(1<<20))
	}
}

// conveyor serve shifts contexts unless --no-context-shift.
func TestServeNoContextShiftFlag(t *testing.T) {
	long, err := json.Marshal(map[string]any{"messages": conversation(6), "max_tokens": 4, "temperature": 0})
	require.NoError(t, err)
	answer := `{"prompt": "Once upon a time", "max_tokens": 300, "ignore_eos": true, "temperature": 0}`
	for _, noShift := range []bool{false, true} {
		args := []string{"-m", storiesPath(t), "--chat-template", "chatml", "--backend", "cpu", "-t", "2", "--parallel", "1", "-c", "256"}
		if noShift {
			args = append(args, "--no-context-shift")
		}
		cmd, base, _ := conveyorServe(t, args...)
		var c completion
		status := postJSON(t, base+"/v1/completions", answer, &c)
		require.Equal(t, http.StatusOK, status)
		chatStatus := postJSON(t, base+"/v1/chat/completions", string(long), &completion{})
		if noShift {
			require.Less(t, c.Usage.CompletionTokens, 256)
			require.Equal(t, http.StatusBadRequest, chatStatus)
		} else {
			require.Equal(t, 300, c.Usage.CompletionTokens)
			require.Equal(t, http.StatusOK, chatStatus)
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		require.NoError(t, cmd.Wait())
	}
}
