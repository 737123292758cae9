package serve

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-llm/conveyor/chat"
	"github.com/conveyor-llm/conveyor/engine"
)

// fuzzDecode runs body through what a handler does before the model: the
// decoder and the checks; it must answer with an error or a request, never
// panic.
func fuzzDecode(t *testing.T, body []byte, v any) *requestError {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/json")
	err := decode(w, r, 1<<20, v)
	if err != nil && (err.status < 400 || err.status > 499) {
		t.Fatalf("status %d for a client's mistake", err.status)
	}
	return err
}

var fuzzSeeds = []string{
	`{}`, `null`, `[]`, `"x"`, `{"model":"m","messages":[{"role":"user","content":"Hi"}]}`,
	`{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},{"role":"assistant","content":null,"tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"1"}]}`,
	`{"messages":[{"role":"user","content":"x"}],"temperature":0,"top_p":0,"top_k":-1,"min_p":2,"seed":-5,"stop":["a",""],"max_tokens":0,"logit_bias":{"1":100,"-1":5,"x":1}}`,
	`{"messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true},"n":2,"logprobs":true,"response_format":{"type":"json_object"}}`,
	`{"prompt":"Once upon a time","max_tokens":16,"echo":true,"suffix":"x"}`,
	`{"prompt":[1,2,3]}`, `{"prompt":[[1,2],[3]]}`, `{"prompt":["a","b"]}`, `{"prompt":[]}`, `{"prompt":null}`,
	`{"prompt":"x","temperature":1e400}`, `{"prompt":"x","max_tokens":1e20}`, `{"prompt":"x"} {"prompt":"y"}`,
	`{"messages":[null,1,"x",{"role":7}]}`, `{"messages":[{"role":"user","content":{"a":1}}],"chat_template_kwargs":{"enable_thinking":false}}`,
}

const fuzzVocab = 32000

// Random JSON bodies through /v1/chat/completions' decoding, checks and
// rendering (chatml): errors, never panics.
func FuzzChatRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	tmpl, err := chat.Builtin("chatml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req chatRequest
		if fuzzDecode(t, body, &req) != nil {
			return
		}
		var g engine.Request
		if req.check("m", fuzzVocab, -1, 100, &g) != nil {
			return
		}
		if err := g.Sampling.Validate(); err != nil {
			t.Fatalf("checked sampling is invalid: %v", err)
		}
		msgs, merr := chatMessages(req.Messages)
		if merr != nil {
			return
		}
		var tools []any
		for _, tl := range req.Tools {
			tools = append(tools, tl)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		bos, eos := "<s>", "</s>"
		_, _ = chat.Render(tmpl, chat.Input{Messages: msgs, Tools: tools, AddGenerationPrompt: true, BOSToken: &bos, EOSToken: &eos,
			Vars: req.TemplateKwargs, Context: ctx})
	})
}

// Random JSON bodies through /v1/completions' decoding and checks.
func FuzzCompletionRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req completionRequest
		if fuzzDecode(t, body, &req) != nil {
			return
		}
		var g engine.Request
		if req.check("m", fuzzVocab, 16, 0, &g) != nil {
			return
		}
		if err := g.Validate(); err != nil {
			t.Fatalf("checked request is invalid: %v", err)
		}
		if _, ids, perr := completionPrompt(req.Prompt); perr == nil && ids != nil && len(ids) == 0 {
			t.Fatal("an empty list of token ids accepted")
		}
	})
}
