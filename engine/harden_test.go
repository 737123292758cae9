package engine

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

func TestSamplingValidation(t *testing.T) {
	m := loadStories(t)
	s, err := m.NewSession(SessionOptions{Context: 64})
	require.NoError(t, err)
	defer s.Close()
	sched, err := m.NewScheduler(SchedulerOptions{Parallel: 1, Context: 64})
	require.NoError(t, err)
	defer sched.Close(context.Background())
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		s    Sampling
		want string
	}{
		{Sampling{Temperature: nan}, "temperature"},
		{Sampling{Temperature: inf}, "temperature"},
		{Sampling{Temperature: -0.5}, "temperature"},
		{Sampling{TopK: -1}, "top-k"},
		{Sampling{TopP: nan}, "top-p"},
		{Sampling{TopP: 1.5}, "top-p"},
		{Sampling{TopP: -0.1}, "top-p"},
		{Sampling{MinP: nan}, "min-p"},
		{Sampling{MinP: -1}, "min-p"},
		{Sampling{MinP: 2}, "min-p"},
		{Sampling{RepeatPenalty: nan}, "repeat penalty"},
		{Sampling{RepeatPenalty: -1}, "repeat penalty"},
		{Sampling{RepeatPenalty: inf}, "repeat penalty"},
		{Sampling{PresencePenalty: nan}, "presence penalty"},
		{Sampling{FrequencyPenalty: float32(math.Inf(-1))}, "frequency penalty"},
		{Sampling{RepeatLastN: -2}, "repeat-last-n"},
		{Sampling{LogitBias: map[int32]float32{3: nan}}, "logit bias"},
	} {
		require.ErrorContains(t, tc.s.Validate(), tc.want, "%+v", tc.s)
		req := Request{Prompt: "Hi", MaxTokens: 2, Sampling: tc.s}
		_, err := s.Generate(context.Background(), req, nil)
		require.ErrorContains(t, err, tc.want, "Generate %+v", tc.s)
		require.NotContains(t, err.Error(), "--", "no CLI advice in the library")
		_, err = sched.Submit(context.Background(), req, nil)
		require.ErrorContains(t, err, tc.want, "Submit %+v", tc.s)
	}
	require.NoError(t, Sampling{}.Validate())
	require.NoError(t, DefaultSampling().Validate())
	require.NoError(t, Sampling{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, RepeatPenalty: 1.1, RepeatLastN: -1,
		PresencePenalty: -2, FrequencyPenalty: 2, LogitBias: map[int32]float32{1: float32(math.Inf(-1))}}.Validate())
}

func TestMaxTokens(t *testing.T) {
	m := loadStories(t)
	s, err := m.NewSession(SessionOptions{Context: 64})
	require.NoError(t, err)
	defer s.Close()
	greedy := DefaultSampling()

	calls := 0
	res, err := s.Generate(context.Background(), Request{Prompt: "Once upon a time", MaxTokens: 0, Sampling: greedy, TopLogits: 3},
		func(Token) error { calls++; return nil })
	require.NoError(t, err)
	require.Empty(t, res.GeneratedIDs, "MaxTokens 0 generates nothing")
	require.Zero(t, calls)
	require.Equal(t, "length", res.StopReason)
	require.Len(t, res.TopLogits, 3, "the prompt is still computed")

	for _, n := range []int{-2, -5} {
		_, err = s.Generate(context.Background(), Request{Prompt: "Hi", MaxTokens: n, Sampling: greedy}, nil)
		require.ErrorContains(t, err, "MaxTokens must be -1")
	}
	res, err = s.Generate(context.Background(), Request{Prompt: "Once upon a time", MaxTokens: -1, Sampling: greedy}, nil)
	require.NoError(t, err)
	require.NotEmpty(t, res.GeneratedIDs)

	sched, err := m.NewScheduler(SchedulerOptions{Parallel: 1, Context: 64})
	require.NoError(t, err)
	go sched.Run(context.Background())
	defer sched.Close(context.Background())
	res, err = sched.Submit(context.Background(), Request{Prompt: "Hi", MaxTokens: 0, Sampling: greedy}, nil)
	require.NoError(t, err)
	require.Empty(t, res.GeneratedIDs)
	_, err = sched.Submit(context.Background(), Request{Prompt: "Hi", MaxTokens: -3, Sampling: greedy}, nil)
	require.ErrorContains(t, err, "MaxTokens")
}

func TestNilEmitAndBadPromptIDs(t *testing.T) {
	m := loadStories(t)
	s, err := m.NewSession(SessionOptions{Context: 64})
	require.NoError(t, err)
	defer s.Close()
	res, err := s.Generate(context.Background(), Request{Prompt: "Once upon a time", MaxTokens: 4, Sampling: DefaultSampling()}, nil)
	require.NoError(t, err)
	require.Len(t, res.GeneratedIDs, 4)
	require.NotEmpty(t, res.Text)

	for _, ids := range [][]int32{{1, -1}, {1, 1 << 30}} {
		_, err = s.Generate(context.Background(), Request{PromptIDs: ids, MaxTokens: 1}, nil)
		require.ErrorContains(t, err, "outside the vocabulary")
	}
}

func TestPenaltiesAndLogitBias(t *testing.T) {
	m := loadStories(t)
	s, err := m.NewSession(SessionOptions{Context: 128})
	require.NoError(t, err)
	defer s.Close()
	run := func(smp Sampling) []int32 {
		res, err := s.Generate(context.Background(), Request{Prompt: "Once upon a time", MaxTokens: 24, Sampling: smp}, nil)
		require.NoError(t, err)
		return res.GeneratedIDs
	}
	plain := run(DefaultSampling())
	// A large bias on one token makes greedy decoding pick it every time.
	biased := DefaultSampling()
	biased.LogitBias = map[int32]float32{300: 1000}
	for _, id := range run(biased) {
		require.Equal(t, int32(300), id)
	}
	// A ban removes the token greedy decoding chose first.
	banned := DefaultSampling()
	banned.LogitBias = map[int32]float32{plain[0]: float32(math.Inf(-1))}
	require.NotEqual(t, plain[0], run(banned)[0])
	// A huge frequency penalty never repeats a token of the window.
	freq := DefaultSampling()
	freq.FrequencyPenalty = 1000
	freq.RepeatLastN = -1
	seen := map[int32]bool{}
	for _, id := range []int32{1, 403, 407, 261, 378} { // the prompt
		seen[id] = true
	}
	for _, id := range run(freq) {
		require.False(t, seen[id], "token %d repeated", id)
		seen[id] = true
	}
	pres := DefaultSampling()
	pres.PresencePenalty = 1000
	require.NotEqual(t, plain, run(pres))
}

func TestSubmitHonoursContext(t *testing.T) {
	m := loadStories(t)
	req := Request{Prompt: "Once upon a time", MaxTokens: 4, Sampling: DefaultSampling()}

	t.Run("before Run", func(t *testing.T) {
		s, err := m.NewScheduler(SchedulerOptions{Parallel: 1, Context: 64})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = s.Submit(ctx, req, nil)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Less(t, time.Since(start), 2*time.Second)
		// The abandoned request does not stop the scheduler once it runs.
		go s.Run(context.Background())
		res, err := s.Submit(context.Background(), req, nil)
		require.NoError(t, err)
		require.Len(t, res.GeneratedIDs, 4)
		require.NoError(t, s.Close(context.Background()))
	})
	t.Run("after Run returned", func(t *testing.T) {
		s, err := m.NewScheduler(SchedulerOptions{Parallel: 1, Context: 64})
		require.NoError(t, err)
		runCtx, stop := context.WithCancel(context.Background())
		ran := make(chan struct{})
		go func() { s.Run(runCtx); close(ran) }()
		stop()
		<-ran
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err = s.Submit(ctx, req, nil)
		require.ErrorIs(t, err, ErrNotRunning)
		require.Less(t, time.Since(start), time.Second)
		s.Run(context.Background()) // a second Run returns at once
		require.NoError(t, s.Close(context.Background()))
	})
	t.Run("Close before Run, twice, then Run and Submit", func(t *testing.T) {
		s, err := m.NewScheduler(SchedulerOptions{Parallel: 1, Context: 64})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, s.Close(ctx))
		require.NoError(t, s.Close(ctx))
		s.Run(context.Background())
		_, err = s.Submit(ctx, req, nil)
		require.True(t, errors.Is(err, ErrClosed), "%v", err)
	})
	t.Run("a cancelled context", func(t *testing.T) {
		s, err := m.NewScheduler(SchedulerOptions{Parallel: 1, Context: 64})
		require.NoError(t, err)
		go s.Run(context.Background())
		defer s.Close(context.Background())
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = s.Submit(ctx, req, nil)
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestSessionSizesCheckedBeforeAllocating(t *testing.T) {
	m := loadStories(t)
	for _, o := range []SessionOptions{{Context: 1 << 40}, {Context: 100000, Sequences: 100000}} {
		_, err := m.NewSession(o)
		require.ErrorContains(t, err, "more than the 2147483647 one cache can index", "%+v", o)
	}
	_, err := m.NewScheduler(SchedulerOptions{Context: 1 << 40, Parallel: 4})
	require.ErrorContains(t, err, "one cache can index")

	saved := availableMemory
	defer func() { availableMemory = saved }()
	availableMemory = func() (int64, bool) { return 1 << 20, true }
	_, err = m.NewSession(SessionOptions{Context: 100000})
	require.ErrorContains(t, err, "a KV cache of 1 sequence x 100000 positions needs 61.0 MiB (640 B per position, f16 cache)")
	require.ErrorContains(t, err, "but 1.0 MiB of memory is available")
	_, err = m.NewScheduler(SchedulerOptions{Context: 100000, Parallel: 2})
	require.ErrorContains(t, err, "2 sequences x 100000 positions needs 122.1 MiB")

	availableMemory = func() (int64, bool) { return 1 << 40, true }
	s, err := m.NewSession(SessionOptions{Context: 64, BatchSize: 1 << 20})
	require.NoError(t, err, "a batch wider than the cache is narrowed to it")
	s.Close()
}

func TestLoadContextCancels(t *testing.T) {
	path := testdata.Path(t, "models/stories260K.gguf")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := LoadContext(ctx, path, Options{Backend: "cpu", Threads: 1})
	require.ErrorIs(t, err, context.Canceled)

	// Cancelled while the weights load (Ctrl-C during a long load).
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	_, err = LoadContext(ctx, path, Options{Backend: "cpu", Threads: 1, Progress: func(done, total int64) {
		if calls++; calls == 1 {
			cancel()
		}
	}})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, calls, "no tensor after the cancellation")

	m, err := LoadContext(context.Background(), path, Options{Backend: "cpu", Threads: 1})
	require.NoError(t, err)
	m.Close()
}

func TestCallsAfterCloseAreErrors(t *testing.T) {
	m, err := Load(testdata.Path(t, "models/stories260K.gguf"), Options{Backend: "cpu", Threads: 1})
	require.NoError(t, err)
	req := Request{Prompt: "Hi", MaxTokens: 2}

	s, err := m.NewSession(SessionOptions{Context: 32})
	require.NoError(t, err)
	s.Close()
	s.Close()
	_, err = s.Generate(context.Background(), req, nil)
	require.ErrorIs(t, err, ErrSessionClosed)
	_, err = s.Forward(singleToken(1, 0))
	require.ErrorIs(t, err, ErrSessionClosed)
	for range s.Stream(context.Background(), req) {
	}

	open, err := m.NewSession(SessionOptions{Context: 32})
	require.NoError(t, err)
	require.NoError(t, m.Close())
	require.NoError(t, m.Close())
	_, err = open.Generate(context.Background(), req, nil)
	require.ErrorIs(t, err, ErrModelClosed)
	open.Close()
	_, err = m.NewSession(SessionOptions{})
	require.ErrorIs(t, err, ErrModelClosed)
	_, err = m.NewScheduler(SchedulerOptions{})
	require.ErrorIs(t, err, ErrModelClosed)
}

func TestOutOfRangeSizes(t *testing.T) {
	_, err := Load(testdata.Path(t, "models/stories260K.gguf"), Options{Backend: "cpu", Threads: 1 << 40})
	require.ErrorContains(t, err, "CPU threads")
	m := loadStories(t)
	_, err = m.NewScheduler(SchedulerOptions{Queue: 1 << 40, Context: 32})
	require.ErrorContains(t, err, "queue of 1099511627776 requests")
}
