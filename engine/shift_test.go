package engine

import (
	"sync"
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

// A Scheduler with ContextShift shifts each full sequence as a Session does:
// requests decoded side by side, with their own Keep, give the tokens each
// gives alone in a shifting Session; without it they end at a full context.
func TestSchedulerContextShiftEqualsSession(t *testing.T) {
	for _, b := range testBackends() {
		t.Run(b, func(t *testing.T) {
			m, err := Load(storiesPath(t), Options{Backend: b, Threads: 2})
			require.NoError(t, err)
			defer m.Close()
			testSchedulerContextShift(t, m)
		})
	}
}

func testSchedulerContextShift(t *testing.T, m *Model) {
	const ctxLen = 48
	reqs := []Request{
		{Prompt: "Once upon a time", MaxTokens: 90}, // shifts twice
		{Prompt: "Lily and Tom", MaxTokens: 60, Keep: 2},
		{Prompt: "The cat sat on the mat", MaxTokens: 70, Keep: -1},
		{Prompt: "Tim was", MaxTokens: 20}, // ends before the context is full
	}
	alone := make([]*Result, len(reqs))
	for i := range reqs {
		reqs[i].Sampling, reqs[i].IgnoreEOS = DefaultSampling(), true
		s, err := m.NewSession(SessionOptions{Context: ctxLen, ContextShift: true})
		require.NoError(t, err)
		alone[i], _ = generate(t, s, reqs[i])
		s.Close()
	}
	require.Equal(t, 2, alone[0].Stats.ContextShifts)
	require.Positive(t, alone[1].Stats.ContextShifts)
	require.Positive(t, alone[2].Stats.ContextShifts)
	require.Zero(t, alone[3].Stats.ContextShifts)

	s := startScheduler(t, m, SchedulerOptions{Parallel: 3, Context: ctxLen, BatchSize: 7, ContextShift: true})
	results := make([]*Result, len(reqs))
	var wg sync.WaitGroup
	rounds := 2 // the second on sequences that hold shifted histories
	if m.Backend().Name() != "cpu" {
		rounds = 1 // lavapipe is slow
	}
	for round := range rounds {
		for i, req := range reqs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, text := submit(t, s, req)
				require.Equal(t, res.Text, text)
				if round == 0 {
					results[i] = res
				}
				require.Equal(t, alone[i].GeneratedIDs, res.GeneratedIDs, "request %d", i)
				require.Equal(t, alone[i].Stats.ContextShifts, res.Stats.ContextShifts, "request %d", i)
				require.Equal(t, "length", res.StopReason)
			}()
		}
	}
	wg.Wait()
	var shifts int64
	for _, res := range results {
		shifts += int64(rounds * res.Stats.ContextShifts)
	}
	require.Equal(t, shifts, s.Metrics().ContextShifts)

	// Without ContextShift, a full sequence ends its request.
	off := startScheduler(t, m, SchedulerOptions{Parallel: 2, Context: ctxLen})
	res, _ := submit(t, off, reqs[0])
	require.Equal(t, "context", res.StopReason)
	require.Equal(t, alone[0].GeneratedIDs[:len(res.GeneratedIDs)], res.GeneratedIDs)
	require.Len(t, res.PromptIDs, ctxLen-len(res.GeneratedIDs)+1)
}
