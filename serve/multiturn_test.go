package serve

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/engine"
)

// The second turn of a chat (the first turn's messages, the assistant's
// answer and a new user message) computes only its new tokens, and answers
// as a cold run of the whole history does.
func TestMultiTurnComputesOnlyNewTokens(t *testing.T) {
	m := loadStories(t)
	s := startServer(t, m, engine.SchedulerOptions{Parallel: 4, Context: 512})
	history := []map[string]any{
		{"role": "system", "content": "You tell short stories."},
		{"role": "user", "content": "Tell me about a cat."},
	}
	for i, maxTokens := range []int{24, 200} { // a short answer, then a long one that may end on its own
		turn := func(msgs []map[string]any, maxTokens int) *completion {
			body := chatBody("", map[string]any{"max_tokens": maxTokens})
			body["messages"] = msgs
			return s.complete(t, "/v1/chat/completions", body)
		}
		first := turn(history, maxTokens)
		if i == 0 {
			require.Zero(t, first.Usage.PromptTokensDetails.CachedTokens)
		}

		second := append(append([]map[string]any{}, history...),
			map[string]any{"role": "assistant", "content": first.text()},
			map[string]any{"role": "user", "content": "And then?"})
		before := s.sched.Metrics()
		warm := turn(second, 16)
		after := s.sched.Metrics()

		// Everything up to the first turn's answer was in the cache; only the
		// tail is computed (the answer's last token, when generation stopped
		// at max_tokens, was chosen but never fed back).
		newTokens := warm.Usage.PromptTokens - first.Usage.PromptTokens - first.Usage.CompletionTokens
		reused := warm.Usage.PromptTokensDetails.CachedTokens
		computed := warm.Usage.PromptTokens - reused
		t.Logf("turn with %d prompt tokens: %d reused, %d computed, %d new since the last answer (which ended with %q)",
			warm.Usage.PromptTokens, reused, computed, newTokens, *first.Choices[0].FinishReason)
		require.LessOrEqual(t, computed, newTokens+1, "second turn computes %d of %d prompt tokens (%d new)", computed, warm.Usage.PromptTokens, newTokens)
		require.Greater(t, reused, first.Usage.PromptTokens, "the first turn's prompt and answer are reused")
		require.Equal(t, int64(reused), after.ReusedTokens-before.ReusedTokens, "the reused-token counter agrees")

		// A cold server gives the same tokens for the whole history.
		cold := startServer(t, m, engine.SchedulerOptions{Parallel: 1, Context: 512})
		body := chatBody("", map[string]any{"max_tokens": 16})
		body["messages"] = second
		want := cold.complete(t, "/v1/chat/completions", body)
		require.Zero(t, want.Usage.PromptTokensDetails.CachedTokens)
		require.Equal(t, want.text(), warm.text())
		require.Equal(t, want.Usage, warm.Usage.withCached(0))

		history = append(second, map[string]any{"role": "assistant", "content": warm.text()},
			map[string]any{"role": "user", "content": "Tell me about a dog."})
	}
}
