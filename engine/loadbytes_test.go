package engine

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/models/stories260k"
)

// TestLoadBytes loads the embedded stories260K from memory, with no file, and
// from an ordinary heap copy of it, which must come through loading and
// generating unchanged (the CPU backend computes in place only on a file's
// mapping); both generate the known greedy story.
func TestLoadBytes(t *testing.T) {
	heap := bytes.Clone(stories260k.GGUF())
	for name, data := range map[string][]byte{"embedded": stories260k.GGUF(), "heap copy": heap} {
		t.Run(name, func(t *testing.T) {
			m, err := LoadBytes(data, Options{Backend: "cpu", Threads: 2})
			require.NoError(t, err)
			defer m.Close()
			s, err := m.NewSession(SessionOptions{})
			require.NoError(t, err)
			defer s.Close()
			res, _ := generate(t, s, Request{Prompt: "Once upon a time", MaxTokens: 12, Sampling: DefaultSampling()})
			require.Equal(t, ", there was a little girl named Lily. She", res.Text)
			require.True(t, bytes.Equal(stories260k.GGUF(), data), "the model's bytes changed")
		})
	}
}

// TestLoadBytesMatchesLoad checks that the model loaded from memory gives the
// same greedy ids and logits as the same file loaded from disk.
func TestLoadBytesMatchesLoad(t *testing.T) {
	fromFile := loadStories(t)
	fromBytes, err := LoadBytes(stories260k.GGUF(), Options{Backend: "cpu", Threads: 2})
	require.NoError(t, err)
	defer fromBytes.Close()
	req := Request{Prompt: "Lily and Tom", MaxTokens: 64, Sampling: DefaultSampling(), TopLogits: 10}
	var results [2]*Result
	for i, m := range []*Model{fromFile, fromBytes} {
		s, err := m.NewSession(SessionOptions{})
		require.NoError(t, err)
		results[i], _ = generate(t, s, req)
		s.Close()
	}
	require.Equal(t, results[0].GeneratedIDs, results[1].GeneratedIDs)
	require.Equal(t, results[0].TopLogits, results[1].TopLogits)
}
