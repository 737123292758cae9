package engine

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// With ContextShift, generation goes on past a full context: the kept tokens
// stay, half of the rest is dropped, and the token after a shift is the one a
// fresh session would choose from the shifted history.
func TestContextShift(t *testing.T) {
	m := loadStories(t)
	const ctxLen, keep = 64, 3
	s, err := m.NewSession(SessionOptions{Context: ctxLen, ContextShift: true, Keep: keep})
	require.NoError(t, err)
	defer s.Close()
	req := Request{Prompt: "Once upon a time", MaxTokens: 150, Sampling: DefaultSampling(), IgnoreEOS: true}
	res, text := generate(t, s, req)
	require.Equal(t, "length", res.StopReason)
	require.Len(t, res.GeneratedIDs, 150)
	require.Equal(t, res.Text, text)
	require.GreaterOrEqual(t, res.Stats.ContextShifts, 2)
	require.LessOrEqual(t, len(s.history), ctxLen)

	// The first shift: the cache held the prompt and gen[:k], next is gen[k].
	p := res.PromptIDs
	gen := res.GeneratedIDs
	k := ctxLen - len(p)
	full := append(append([]int32{}, p...), gen[:k]...)
	kept := keep + 1 // and BOS
	require.Equal(t, m.Tokenizer().BOS(), p[0])
	discard := (ctxLen - kept) / 2
	shifted := append(append(append([]int32{}, full[:kept]...), full[kept+discard:]...), gen[k])
	fresh, err := m.NewSession(SessionOptions{Context: ctxLen})
	require.NoError(t, err)
	defer fresh.Close()
	want, _ := generate(t, fresh, Request{PromptIDs: shifted, MaxTokens: 3, Sampling: DefaultSampling(), IgnoreEOS: true})
	require.Equal(t, want.GeneratedIDs, gen[k+1:k+4])

	// Without it, a full context ends generation.
	off, err := m.NewSession(SessionOptions{Context: ctxLen})
	require.NoError(t, err)
	defer off.Close()
	res, _ = generate(t, off, req)
	require.Equal(t, "context", res.StopReason)
	require.Equal(t, gen[:len(res.GeneratedIDs)], res.GeneratedIDs)
	require.Zero(t, res.Stats.ContextShifts)

	// A Keep that leaves nothing to drop ends at a full context too.
	all, err := m.NewSession(SessionOptions{Context: 8, ContextShift: true, Keep: -1})
	require.NoError(t, err)
	defer all.Close()
	res, _ = generate(t, all, Request{PromptIDs: []int32{1, 2, 3, 4, 5, 6, 7}, MaxTokens: 20, Sampling: DefaultSampling(), IgnoreEOS: true})
	require.Equal(t, "context", res.StopReason)
}
