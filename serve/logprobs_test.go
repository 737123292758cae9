package serve

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/engine"
)

// Greedy answers' logprobs: each token is its top_logprobs' first, all at
// most 0, the same streamed and not, in chat's and completions' shapes.
func TestLogprobs(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 1, Context: 256})
	status, _, out := s.post(t, "/v1/chat/completions", `{"messages": [{"role": "user", "content": "Once"}], "temperature": 0, "max_tokens": 8, "logprobs": true, "top_logprobs": 3}`)
	require.Equal(t, http.StatusOK, status, string(out))
	var r struct {
		Choices []struct {
			Logprobs struct {
				Content []struct {
					Token       string  `json:"token"`
					Logprob     float64 `json:"logprob"`
					TopLogprobs []struct {
						Token   string  `json:"token"`
						Logprob float64 `json:"logprob"`
					} `json:"top_logprobs"`
				} `json:"content"`
			} `json:"logprobs"`
		} `json:"choices"`
	}
	require.NoError(t, json.Unmarshal(out, &r))
	content := r.Choices[0].Logprobs.Content
	require.Len(t, content, 8, string(out))
	for _, c := range content {
		require.Len(t, c.TopLogprobs, 3)
		require.Equal(t, c.TopLogprobs[0].Token, c.Token)
		require.Equal(t, c.TopLogprobs[0].Logprob, c.Logprob)
		require.LessOrEqual(t, c.Logprob, 0.0)
		require.GreaterOrEqual(t, c.TopLogprobs[0].Logprob, c.TopLogprobs[1].Logprob)
	}

	status, _, out = s.post(t, "/v1/completions", `{"prompt": "Once", "temperature": 0, "max_tokens": 6, "logprobs": 2}`)
	require.Equal(t, http.StatusOK, status, string(out))
	var c struct {
		Choices []struct {
			Logprobs struct {
				Tokens        []string             `json:"tokens"`
				TokenLogprobs []float64            `json:"token_logprobs"`
				TopLogprobs   []map[string]float64 `json:"top_logprobs"`
				TextOffset    []int                `json:"text_offset"`
			} `json:"logprobs"`
		} `json:"choices"`
	}
	require.NoError(t, json.Unmarshal(out, &c))
	lp := c.Choices[0].Logprobs
	require.Len(t, lp.Tokens, 6, string(out))
	require.Len(t, lp.TopLogprobs[0], 2)
	require.Equal(t, lp.TopLogprobs[0][lp.Tokens[0]], lp.TokenLogprobs[0])

	// streamed: the same tokens and logprobs, chunk by chunk
	_, _, sout := s.post(t, "/v1/completions", `{"prompt": "Once", "temperature": 0, "max_tokens": 6, "logprobs": 2, "stream": true}`)
	var tokens []string
	var lps []float64
	for _, line := range splitEvents(string(sout)) {
		var ch struct {
			Choices []struct {
				Logprobs *struct {
					Tokens        []string  `json:"tokens"`
					TokenLogprobs []float64 `json:"token_logprobs"`
				} `json:"logprobs"`
			} `json:"choices"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &ch), line)
		if len(ch.Choices) > 0 && ch.Choices[0].Logprobs != nil {
			tokens = append(tokens, ch.Choices[0].Logprobs.Tokens...)
			lps = append(lps, ch.Choices[0].Logprobs.TokenLogprobs...)
		}
	}
	require.Equal(t, lp.Tokens, tokens)
	require.Equal(t, lp.TokenLogprobs, lps)
}

func splitEvents(body string) []string {
	var out []string
	for _, l := range splitLines(body) {
		if len(l) > 6 && l[:6] == "data: " && l != "data: [DONE]" {
			out = append(out, l[6:])
		}
	}
	return out
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := range len(s) {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}
