package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

func startScheduler(t *testing.T, m *Model, o SchedulerOptions) *Scheduler {
	t.Helper()
	s, err := m.NewScheduler(o)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	go s.Run(ctx)
	t.Cleanup(func() {
		closeCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		require.NoError(t, s.Close(closeCtx))
		cancel()
	})
	return s
}

func submit(t *testing.T, s *Scheduler, req Request) (*Result, string) {
	t.Helper()
	var text strings.Builder
	res, err := s.Submit(context.Background(), req, func(tok Token) error { text.WriteString(tok.Text); return nil })
	require.NoError(t, err)
	return res, text.String()
}

var schedPrompts = []string{"Once upon a time", "Lily and Tom", "The cat", "One day, a little", "Tim was", "The sun", "Mom said", "A big dog"}

// Requests decoded together, joining and leaving between steps, give the same
// tokens as each alone.
func TestSchedulerConcurrentEqualsAlone(t *testing.T) {
	for _, b := range testBackends() {
		t.Run(b, func(t *testing.T) {
			m, err := Load(storiesPath(t), Options{Backend: b, Threads: 2})
			require.NoError(t, err)
			defer m.Close()
			alone := map[string][]int32{}
			single, err := m.NewSession(SessionOptions{Context: 128})
			require.NoError(t, err)
			for i, p := range schedPrompts {
				res, _ := generate(t, single, Request{Prompt: p, MaxTokens: 20 + i, Sampling: DefaultSampling()})
				alone[p] = res.GeneratedIDs
				single.Reset()
			}
			single.Close()

			s := startScheduler(t, m, SchedulerOptions{Parallel: 3, Context: 128, BatchSize: 7})
			var wg sync.WaitGroup
			for round := 0; round < 2; round++ {
				for i, p := range schedPrompts {
					wg.Add(1)
					go func() {
						defer wg.Done()
						res, text := submit(t, s, Request{Prompt: p, MaxTokens: 20 + i, Sampling: DefaultSampling()})
						require.Equal(t, alone[p], res.GeneratedIDs, "%q", p)
						require.Equal(t, res.Text, text)
					}()
				}
			}
			wg.Wait()
			mt := s.Metrics()
			require.Equal(t, int64(2*len(schedPrompts)), mt.Completed)
			require.Equal(t, int64(2*len(schedPrompts)), mt.TTFT.Count)
		})
	}
}

// A request whose prompt extends a cached sequence computes only the rest and
// gives the same tokens as a cold run; this is what makes a chat's second turn cheap.
func TestSchedulerReusesCachedPrefix(t *testing.T) {
	m := loadStories(t)
	s := startScheduler(t, m, SchedulerOptions{Parallel: 2, Context: 256})
	first, _ := submit(t, s, Request{Prompt: "Lily and Tom", MaxTokens: 30, Sampling: DefaultSampling()})
	require.Equal(t, 0, first.Stats.ReusedTokens)

	// The history so far (all but the last generated token is in the cache),
	// then the next turn's tokens.
	turn2 := append(append(append([]int32{}, first.PromptIDs...), first.GeneratedIDs...), m.Tokenizer().Encode(" Then they", false, false)...)
	second, _ := submit(t, s, Request{PromptIDs: turn2, MaxTokens: 20, Sampling: DefaultSampling()})
	require.Equal(t, len(first.PromptIDs)+len(first.GeneratedIDs)-1, second.Stats.ReusedTokens)

	cold, err := m.NewSession(SessionOptions{Context: 256})
	require.NoError(t, err)
	defer cold.Close()
	want, _ := generate(t, cold, Request{PromptIDs: turn2, MaxTokens: 20, Sampling: DefaultSampling()})
	require.Equal(t, want.GeneratedIDs, second.GeneratedIDs)
	require.Equal(t, int64(second.Stats.ReusedTokens), s.Metrics().ReusedTokens)
}

func TestSchedulerQueueFullCancelAndClose(t *testing.T) {
	m := loadStories(t)
	s, err := m.NewScheduler(SchedulerOptions{Parallel: 1, Context: 512, Queue: 1})
	require.NoError(t, err)
	// Not running yet: the first request waits in the queue, the second finds it full.
	first := make(chan error, 1)
	started := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		close(started)
		n := 0
		_, err := s.Submit(ctx, Request{Prompt: "Once upon a time", MaxTokens: 400, Sampling: DefaultSampling(), IgnoreEOS: true},
			func(Token) error {
				if n++; n == 5 {
					cancel() // the client goes away
				}
				return nil
			})
		first <- err
	}()
	<-started
	require.Eventually(t, func() bool { return s.Metrics().QueueDepth == 1 }, 5*time.Second, time.Millisecond)
	_, err = s.Submit(context.Background(), Request{Prompt: "Hi"}, func(Token) error { return nil })
	require.ErrorIs(t, err, ErrQueueFull)

	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	go s.Run(runCtx)
	require.ErrorIs(t, <-first, context.Canceled)

	// The freed sequence serves the next request.
	res, _ := submit(t, s, Request{Prompt: "Lily and Tom", MaxTokens: 5, Sampling: DefaultSampling()})
	require.Len(t, res.GeneratedIDs, 5)

	closeCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	require.NoError(t, s.Close(closeCtx))
	_, err = s.Submit(context.Background(), Request{Prompt: "Hi"}, func(Token) error { return nil })
	require.True(t, errors.Is(err, ErrClosed), fmt.Sprint(err))
}

func storiesPath(t *testing.T) string { return testdata.Path(t, "models/stories260K.gguf") }
