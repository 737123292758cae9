package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

func loadStories(t *testing.T) *Model {
	t.Helper()
	m, err := Load(testdata.Path(t, "models/stories260K.gguf"), Options{Backend: "cpu", Threads: 2})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

func generate(t *testing.T, s *Session, req Request) (*Result, string) {
	t.Helper()
	var streamed strings.Builder
	res, err := s.Generate(context.Background(), req, func(tok Token) error {
		streamed.WriteString(tok.Text)
		return nil
	})
	require.NoError(t, err)
	return res, streamed.String()
}

func TestGenerate(t *testing.T) {
	m := loadStories(t)
	s, err := m.NewSession(SessionOptions{})
	require.NoError(t, err)
	defer s.Close()
	greedy := DefaultSampling()

	t.Run("streamed text equals the result's text", func(t *testing.T) {
		res, streamed := generate(t, s, Request{Prompt: "Once upon a time", MaxTokens: 40, Sampling: greedy})
		require.Equal(t, res.Text, streamed)
		require.True(t, strings.HasPrefix(res.Text, ", there was a little girl named Lily."), res.Text)
		require.Equal(t, "length", res.StopReason)
		require.Equal(t, 40, res.Stats.GeneratedTokens)
		require.Equal(t, 5, res.Stats.PromptTokens)
		require.Greater(t, res.Stats.DecodeTokPerS, 0.0)
	})
	t.Run("the same seed gives the same output", func(t *testing.T) {
		smp := Sampling{Temperature: 1, TopK: 40, TopP: 0.95, MinP: 0.05, RepeatPenalty: 1.1, Seed: 42}
		a, _ := generate(t, s, Request{Prompt: "Lily and Tom", MaxTokens: 60, Sampling: smp})
		b, _ := generate(t, s, Request{Prompt: "Lily and Tom", MaxTokens: 60, Sampling: smp})
		require.Equal(t, a.GeneratedIDs, b.GeneratedIDs)
		smp.Seed = 43
		c, _ := generate(t, s, Request{Prompt: "Lily and Tom", MaxTokens: 60, Sampling: smp})
		require.NotEqual(t, a.GeneratedIDs, c.GeneratedIDs)
	})
	t.Run("top-k 1 is greedy", func(t *testing.T) {
		a, _ := generate(t, s, Request{Prompt: "Lily and Tom", MaxTokens: 30, Sampling: greedy})
		b, _ := generate(t, s, Request{Prompt: "Lily and Tom", MaxTokens: 30, Sampling: Sampling{Temperature: 1.5, TopK: 1, TopP: 1, RepeatPenalty: 1, Seed: 9}})
		require.Equal(t, a.GeneratedIDs, b.GeneratedIDs)
	})
	t.Run("a stop string ends generation before it", func(t *testing.T) {
		res, streamed := generate(t, s, Request{Prompt: "Once upon a time", MaxTokens: 100, Sampling: greedy, Stop: []string{"Lily"}})
		require.Equal(t, "stop", res.StopReason)
		require.Equal(t, ", there was a little girl named ", res.Text)
		require.Equal(t, res.Text, streamed)
	})
	t.Run("an empty prompt generates from BOS", func(t *testing.T) {
		res, _ := generate(t, s, Request{MaxTokens: 5, Sampling: greedy})
		require.Equal(t, []int32{1}, res.PromptIDs)
		require.Len(t, res.GeneratedIDs, 5)
	})
	t.Run("a prompt longer than the context is an error", func(t *testing.T) {
		small, err := m.NewSession(SessionOptions{Context: 8})
		require.NoError(t, err)
		defer small.Close()
		_, err = small.Generate(context.Background(), Request{Prompt: strings.Repeat("Once upon a time ", 10)}, func(Token) error { return nil })
		require.ErrorIs(t, err, ErrPromptTooLong)
		require.ErrorContains(t, err, "the context holds 8")
	})
	t.Run("generation stops when the context is full", func(t *testing.T) {
		small, err := m.NewSession(SessionOptions{Context: 16})
		require.NoError(t, err)
		defer small.Close()
		res, _ := generate(t, small, Request{Prompt: "Once upon a time", MaxTokens: -1, Sampling: greedy})
		require.Equal(t, "context", res.StopReason)
		require.Equal(t, 16, len(res.PromptIDs)+len(res.GeneratedIDs)-1)
	})
	t.Run("cancellation stops within one token", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		res, err := s.Generate(ctx, Request{Prompt: "Once upon a time", MaxTokens: 200, Sampling: greedy}, func(Token) error {
			n++
			if n == 3 {
				cancel()
			}
			return nil
		})
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, "cancelled", res.StopReason)
		require.Len(t, res.GeneratedIDs, 3)
	})
	t.Run("an error from the callback stops generation", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := s.Generate(context.Background(), Request{Prompt: "Once upon a time", MaxTokens: 20, Sampling: greedy},
			func(Token) error { return boom })
		require.ErrorIs(t, err, boom)
	})
	t.Run("a repeated prompt reuses the cached prefix and gives the same tokens", func(t *testing.T) {
		s.Reset()
		a, _ := generate(t, s, Request{Prompt: "Lily and Tom", MaxTokens: 20, Sampling: greedy})
		require.Equal(t, 0, a.Stats.ReusedTokens)
		b, _ := generate(t, s, Request{Prompt: "Lily and Tom", MaxTokens: 20, Sampling: greedy})
		require.Equal(t, len(b.PromptIDs)-1, b.Stats.ReusedTokens)
		require.Equal(t, a.GeneratedIDs, b.GeneratedIDs)
	})
	t.Run("Stream yields the same tokens", func(t *testing.T) {
		want, _ := generate(t, s, Request{Prompt: "Once upon a time", MaxTokens: 10, Sampling: greedy})
		var got []int32
		for tok, err := range s.Stream(context.Background(), Request{Prompt: "Once upon a time", MaxTokens: 10, Sampling: greedy}) {
			require.NoError(t, err)
			if tok.ID >= 0 {
				got = append(got, tok.ID)
			}
		}
		require.Equal(t, want.GeneratedIDs, got)
	})
}

func TestStopTextHoldsBackPossibleStops(t *testing.T) {
	st := &stopText{stops: []string{"</end>"}}
	out, stopped := st.add("hello </e")
	require.Equal(t, "hello ", out)
	require.False(t, stopped)
	out, stopped = st.add("nd> more")
	require.Equal(t, "", out)
	require.True(t, stopped)
	require.Equal(t, "hello ", st.emitted.String())

	st = &stopText{stops: []string{"</end>"}}
	st.add("a </")
	require.Equal(t, "a </x", "a "+st.flush("x"))
}

func TestBackendSelection(t *testing.T) {
	_, err := OpenBackend(Options{Backend: "tpu"})
	require.ErrorContains(t, err, `unknown backend "tpu"`)
	b, err := OpenBackend(Options{Backend: "cpu", Threads: 1})
	require.NoError(t, err)
	require.Equal(t, "cpu", b.Name())
	require.NoError(t, b.Close())
}
