package serve

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/engine"
)

// TestConstrainedAnswers: each way of asking for a form gives an answer in it,
// in /v1/completions and /v1/chat/completions, streamed and not.
func TestConstrainedAnswers(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 1, Context: 512})
	schema := `{"type":"object","properties":{"ok":{"type":"boolean"},"n":{"type":"integer","minimum":0,"maximum":9}},"required":["ok","n"]}`
	check := func(t *testing.T, text string, kind string) {
		switch kind {
		case "yesno":
			require.Contains(t, []string{"yes", "no"}, text)
		case "schema":
			var v struct {
				OK *bool `json:"ok"`
				N  *int  `json:"n"`
			}
			require.NoError(t, json.Unmarshal([]byte(text), &v), text)
			require.NotNil(t, v.OK, text)
			require.NotNil(t, v.N, text)
			require.True(t, *v.N >= 0 && *v.N <= 9, text)
		case "object":
			var v map[string]any
			require.NoError(t, json.Unmarshal([]byte(text), &v), text)
		}
	}
	for _, tc := range []struct {
		name, field, kind string
	}{
		{"grammar", `"grammar": "root ::= \"yes\" | \"no\""`, "yesno"},
		{"json_schema", `"json_schema": ` + schema, "schema"},
		{"response_format json_schema", `"response_format": {"type": "json_schema", "json_schema": {"name": "x", "strict": true, "schema": ` + schema + `}}`, "schema"},
		{"response_format json_object", `"response_format": {"type": "json_object"}`, "object"},
		{"format schema", `"format": ` + schema, "schema"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/v1/completions", "/v1/chat/completions"} {
				body := `{"prompt": "Once", "temperature": 0, "max_tokens": 200, "logit_bias": {"` + closeToken(t, s) + `": 8}, ` + tc.field + `}`
				if path == "/v1/chat/completions" {
					body = strings.Replace(body, `"prompt": "Once"`, `"messages": [{"role": "user", "content": "Once"}]`, 1)
				}
				status, _, out := s.post(t, path, body)
				require.Equal(t, http.StatusOK, status, string(out))
				var r struct {
					Choices []struct {
						Text    string `json:"text"`
						Message struct {
							Content string `json:"content"`
						} `json:"message"`
						FinishReason string `json:"finish_reason"`
					} `json:"choices"`
				}
				require.NoError(t, json.Unmarshal([]byte(out), &r))
				text := r.Choices[0].Text + r.Choices[0].Message.Content
				if tc.kind == "object" && r.Choices[0].FinishReason == "length" {
					// an open object runs long with a story model: the start is JSON
					require.True(t, strings.HasPrefix(text, "{"), text)
					continue
				}
				require.Equal(t, "stop", r.Choices[0].FinishReason, string(out))
				check(t, text, tc.kind)
			}
		})
	}
}

// closeToken is the id of the token "}" (a bias on it ends objects sooner).
func closeToken(t *testing.T, s *server) string {
	tok := s.m.Tokenizer()
	for id := range tok.VocabSize() {
		if string(tok.Piece(int32(id))) == "}" {
			return itoa(id)
		}
	}
	t.Fatal("no } token")
	return ""
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
