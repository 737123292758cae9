package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/engine/runopts"
)

// requestError is a client's mistake: a 4xx answer naming the parameter at fault.
type requestError struct {
	status  int
	param   string
	code    string
	message string
}

func (e *requestError) Error() string { return e.message }

func badRequest(param, format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, param: param, message: fmt.Sprintf(format, args...)}
}

func (e *requestError) write(w http.ResponseWriter) {
	typ := "invalid_request_error"
	if e.status == http.StatusNotFound && e.param == "model" {
		writeModelNotFound(w, e.message)
		return
	}
	writeError(w, e.status, typ, e.param, e.code, e.message)
}

// Per-request limits on lists, so that one request cannot slow its batch.
const (
	maxStops     = 16   // stop strings
	maxStopBytes = 256  // bytes in one stop string
	maxLogitBias = 1024 // logit_bias entries
)

// params are the generation parameters both endpoints share.
type params struct {
	Model               string   `json:"model"`
	MaxTokens           *int     `json:"max_tokens"`
	MaxCompletionTokens *int     `json:"max_completion_tokens"`
	Temperature         *float64 `json:"temperature"`
	TopP                *float64 `json:"top_p"`
	// llama-server's samplers and OpenAI's penalties.
	TopK             *int               `json:"top_k"`
	MinP             *float64           `json:"min_p"`
	RepeatPenalty    *float64           `json:"repeat_penalty"`
	RepeatLastN      *int               `json:"repeat_last_n"`
	PresencePenalty  *float64           `json:"presence_penalty"`
	FrequencyPenalty *float64           `json:"frequency_penalty"`
	LogitBias        map[string]float64 `json:"logit_bias"`
	// Fields other servers honour that this one does not: refused, not ignored.
	Mirostat any `json:"mirostat"`
	TypicalP any `json:"typical_p"`
	Grammar  any `json:"grammar"`
	// The schemas stay JSON text: their properties' order is the answer's.
	JSONSchema     json.RawMessage `json:"json_schema"`
	ResponseFormat json.RawMessage `json:"response_format"`
	Format         json.RawMessage `json:"format"` // ollama's "json" or a schema (format.go)
	TopLogprobs    any             `json:"top_logprobs"`
	NProbs         any             `json:"n_probs"`
	Seed           *int64          `json:"seed"`
	Stop           stopList        `json:"stop"`
	N              *int            `json:"n"`
	Stream         bool            `json:"stream"`
	StreamOptions  *streamOptions  `json:"stream_options"`
	Logprobs       any             `json:"logprobs"`
	// IgnoreEOS goes on past end-of-generation tokens (llama.cpp's extension).
	IgnoreEOS bool `json:"ignore_eos"`
	// NKeep is how many prompt tokens a context shift keeps besides BOS
	// (llama-server's n_keep; -1: all; a chat keeps its system prompt unless
	// told).
	NKeep *int `json:"n_keep"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// stopList is "stop": a string, an array of strings, or null.
type stopList []string

func (s *stopList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = stopList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return badRequest("stop", "'stop' must be a string or an array of strings")
	}
	*s = many
	return nil
}

type chatRequest struct {
	params
	Messages []map[string]json.RawMessage `json:"messages"`
	Tools    []json.RawMessage            `json:"tools"`
	// ToolChoice is "auto", "none", "required" or a named function;
	// ParallelToolCalls (default true) allows more than one call (tools.go).
	ToolChoice        any   `json:"tool_choice"`
	ParallelToolCalls *bool `json:"parallel_tool_calls"`
	// ReasoningFormat "none" keeps <think> blocks in the content
	// (llama-server's field); otherwise they are reasoning_content.
	ReasoningFormat string `json:"reasoning_format"`
	// TemplateKwargs are further chat template variables, as llama-server's
	// chat_template_kwargs ({"enable_thinking": false}).
	TemplateKwargs map[string]any `json:"chat_template_kwargs"`
}

type completionRequest struct {
	params
	Prompt json.RawMessage `json:"prompt"`
	Echo   bool            `json:"echo"`
	Suffix *string         `json:"suffix"`
}

// decode reads the JSON body into v, turning what went wrong into a 4xx.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) *requestError {
	// A JSON content type, as OpenAI's API requires: it also keeps web pages
	// from posting here without a CORS preflight (text/plain, forms).
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return &requestError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
			message: fmt.Sprintf("the request body must be JSON with Content-Type: application/json, got %q", ct)}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &requestError{status: http.StatusRequestEntityTooLarge, message: fmt.Sprintf("the request body is over %d bytes", limit)}
		}
		return badRequest("", "reading the request body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		var reqErr *requestError
		switch {
		case errors.As(err, &reqErr):
			return reqErr
		case errors.As(err, &typeErr):
			field := strings.TrimPrefix(typeErr.Field, "params.") // the shared fields' struct
			return badRequest(field, "Invalid type for '%s': expected %s, but got %s", field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
		default:
			e := badRequest("", "We could not parse the JSON body of your request (%v); it must be a JSON object", err)
			e.code = "invalid_json"
			return e
		}
	}
	if dec.More() {
		e := badRequest("", "We could not parse the JSON body of your request: more than one JSON value")
		e.code = "invalid_json"
		return e
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "bool":
		return "a boolean"
	case "int", "int64", "float64":
		return "a number"
	}
	return goKind
}

// check validates the shared parameters and fills in req's sampling and
// limits; defaultMax is the token limit when the request gives none (-1: none)
// and capMax, when positive, the most a request may ask for.
func (p *params) check(modelID string, vocab, defaultMax, capMax int, req *engine.Request) *requestError {
	if p.Model != "" && p.Model != modelID {
		return &requestError{status: http.StatusNotFound, param: "model", message: p.Model}
	}
	if p.N != nil && (*p.N < 1 || *p.N > maxChoices) {
		return badRequest("n", "'n' must be from 1 to %d, got %d", maxChoices, *p.N)
	}
	if p.StreamOptions != nil && !p.Stream {
		return badRequest("stream_options", "'stream_options' is only allowed when 'stream' is true")
	}
	switch lp := p.Logprobs.(type) { // logprobs.go
	case nil:
	case bool: // chat: top_logprobs says how many
		req.Logprobs = lp
	case float64: // the legacy endpoint's count
		if lp < 0 || lp > 20 || lp != float64(int(lp)) {
			return badRequest("logprobs", "'logprobs' must be an integer from 0 to 20, got %g", lp)
		}
		req.Logprobs, req.TopLogprobs = true, int(lp)
	default:
		return badRequest("logprobs", "Invalid type for 'logprobs': expected a boolean or a number")
	}
	switch tl := p.TopLogprobs.(type) {
	case nil:
	case float64:
		if tl < 0 || tl > 20 || tl != float64(int(tl)) {
			return badRequest("top_logprobs", "'top_logprobs' must be an integer from 0 to 20, got %g", tl)
		}
		if tl > 0 && !req.Logprobs {
			return badRequest("top_logprobs", "'top_logprobs' needs 'logprobs' true")
		}
		req.TopLogprobs = int(tl)
	default:
		return badRequest("top_logprobs", "Invalid type for 'top_logprobs': expected an integer")
	}
	if k := p.NKeep; k != nil {
		if *k < -1 {
			return badRequest("n_keep", "'n_keep' must be -1 (the whole prompt), 0 or more, got %d", *k)
		}
		req.Keep = *k
	}
	req.MaxTokens = defaultMax
	for _, m := range []struct {
		name string
		v    *int
	}{{"max_tokens", p.MaxTokens}, {"max_completion_tokens", p.MaxCompletionTokens}} {
		if m.v == nil {
			continue
		}
		if *m.v < 1 {
			return badRequest(m.name, "'%s' must be at least 1, got %d", m.name, *m.v)
		}
		if capMax > 0 && *m.v > capMax {
			return badRequest(m.name, "'%s' may be at most %d on this server, got %d", m.name, capMax, *m.v)
		}
		req.MaxTokens = *m.v
	}
	if capMax > 0 && (req.MaxTokens < 0 || req.MaxTokens > capMax) {
		req.MaxTokens = capMax
	}
	req.Sampling = runopts.DefaultSampling() // llama-server's defaults
	if t := p.Temperature; t != nil {
		if *t < 0 || *t > 2 {
			return badRequest("temperature", "'temperature' must be between 0 and 2, got %g", *t)
		}
		req.Sampling.Temperature = float32(*t)
	}
	if tp := p.TopP; tp != nil {
		switch {
		case *tp < 0 || *tp > 1:
			return badRequest("top_p", "'top_p' must be between 0 and 1, got %g", *tp)
		case *tp == 0: // only the most likely token
			req.Sampling.Temperature = 0
		default:
			req.Sampling.TopP = float32(*tp)
		}
	}
	if k := p.TopK; k != nil {
		if *k < 0 {
			return badRequest("top_k", "'top_k' must be 0 (off) or more, got %d", *k)
		}
		req.Sampling.TopK = *k
	}
	if mp := p.MinP; mp != nil {
		if *mp < 0 || *mp > 1 {
			return badRequest("min_p", "'min_p' must be between 0 and 1, got %g", *mp)
		}
		req.Sampling.MinP = float32(*mp)
	}
	if rp := p.RepeatPenalty; rp != nil {
		if *rp < 0 || *rp > 10 {
			return badRequest("repeat_penalty", "'repeat_penalty' must be between 0 and 10 (1: off), got %g", *rp)
		}
		req.Sampling.RepeatPenalty = float32(*rp)
	}
	if n := p.RepeatLastN; n != nil {
		if *n < -1 {
			return badRequest("repeat_last_n", "'repeat_last_n' must be -1 (the whole context), 0 (64) or more, got %d", *n)
		}
		req.Sampling.RepeatLastN = *n
	}
	for _, pen := range []struct {
		name string
		v    *float64
		dst  *float32
	}{{"presence_penalty", p.PresencePenalty, &req.Sampling.PresencePenalty}, {"frequency_penalty", p.FrequencyPenalty, &req.Sampling.FrequencyPenalty}} {
		if pen.v == nil {
			continue
		}
		if *pen.v < -2 || *pen.v > 2 {
			return badRequest(pen.name, "'%s' must be between -2 and 2, got %g", pen.name, *pen.v)
		}
		*pen.dst = float32(*pen.v)
	}
	if len(p.LogitBias) > maxLogitBias {
		return badRequest("logit_bias", "'logit_bias' may hold at most %d tokens, got %d", maxLogitBias, len(p.LogitBias))
	}
	for key, b := range p.LogitBias {
		id, err := strconv.ParseInt(key, 10, 32)
		if err != nil || id < 0 || id >= int64(vocab) {
			return badRequest("logit_bias", "'logit_bias' keys must be token ids (0 to %d), got %q", vocab-1, key)
		}
		if b < -100 || b > 100 {
			return badRequest("logit_bias", "'logit_bias' values must be between -100 and 100, got %g for token %s", b, key)
		}
		if req.Sampling.LogitBias == nil {
			req.Sampling.LogitBias = map[int32]float32{}
		}
		req.Sampling.LogitBias[int32(id)] = float32(b)
	}
	for _, f := range []struct {
		name string
		v    any
	}{{"mirostat", p.Mirostat}, {"typical_p", p.TypicalP}, {"n_probs", p.NProbs}} {
		switch v := f.v.(type) {
		case nil:
		case float64:
			if (f.name == "typical_p" && v == 1) || (f.name != "typical_p" && v == 0) { // off
				continue
			}
			return badRequest(f.name, "'%s' is not supported by this server", f.name)
		default:
			return badRequest(f.name, "'%s' is not supported by this server", f.name)
		}
	}
	if err := p.constrain(req); err != nil { // grammar, json_schema, response_format, format
		return err
	}
	if p.Seed != nil {
		req.Sampling.Seed = uint64(*p.Seed)
	} else {
		req.Sampling.Seed = rand.Uint64()
	}
	if len(p.Stop) > maxStops {
		return badRequest("stop", "'stop' may hold at most %d strings, got %d", maxStops, len(p.Stop))
	}
	for _, s := range p.Stop {
		if s == "" {
			return badRequest("stop", "a stop string must not be empty")
		}
		if len(s) > maxStopBytes {
			return badRequest("stop", "a stop string may be at most %d bytes, got %d", maxStopBytes, len(s))
		}
	}
	req.Stop = p.Stop
	req.IgnoreEOS = p.IgnoreEOS
	if err := req.Sampling.Validate(); err != nil { // what the checks above missed
		return badRequest("", "%v", err)
	}
	return nil
}

// chatRoles are the roles a message may have; "developer" is OpenAI's newer
// name for "system" and is rendered as one.
var chatRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true}

// chatMessages checks each message and gives it as the template sees it:
// content given as an array of text parts becomes one string, as templates
// expect; other fields (tool_calls, name, ...) stay raw JSON, keeping their
// key order.
func chatMessages(raw []map[string]json.RawMessage) ([]map[string]any, *requestError) {
	if len(raw) == 0 {
		return nil, badRequest("messages", "'messages' must be a non-empty array")
	}
	msgs := make([]map[string]any, len(raw))
	for i, m := range raw {
		param := fmt.Sprintf("messages[%d]", i)
		if m == nil {
			return nil, badRequest(param, "Invalid type for '%s': expected an object", param)
		}
		var role string
		if json.Unmarshal(m["role"], &role) != nil {
			return nil, badRequest(param+".role", "'%s.role' must be a string (system, user, assistant or tool)", param)
		}
		if !chatRoles[role] {
			return nil, badRequest(param+".role", "unknown role %q in '%s.role' (system, developer, user, assistant, tool)", role, param)
		}
		if role == "developer" {
			role = "system"
		}
		if role == "tool" {
			// OpenAI's API requires it: the template pairs a result with its call by it.
			var id string
			if json.Unmarshal(m["tool_call_id"], &id) != nil || id == "" {
				return nil, badRequest(param+".tool_call_id", "Missing parameter '%s.tool_call_id': a tool message answers the call with that id", param)
			}
		}
		out := map[string]any{"role": role}
		for k, v := range m {
			if k != "role" && k != "content" {
				out[k] = v
			}
		}
		var content any
		if c, ok := m["content"]; ok && json.Unmarshal(c, &content) != nil {
			return nil, badRequest(param+".content", "'%s.content' is not valid JSON", param)
		}
		switch c := content.(type) {
		case string:
			out["content"] = c
		case nil:
			if role != "assistant" {
				return nil, badRequest(param+".content", "'%s.content' is missing", param)
			}
			// An assistant turn of tool calls alone: templates test and
			// concatenate its content as a string, so it is "", as
			// llama-server gives it.
			out["content"] = ""
		case []any:
			var text strings.Builder
			for j, part := range c {
				p, _ := part.(map[string]any)
				typ, _ := p["type"].(string)
				s, isText := p["text"].(string)
				if typ != "text" || !isText {
					return nil, badRequest(fmt.Sprintf("%s.content[%d]", param, j), "only text content parts ({\"type\":\"text\",\"text\":...}) are supported")
				}
				text.WriteString(s)
			}
			out["content"] = text.String()
		default:
			return nil, badRequest(param+".content", "Invalid type for '%s.content': expected a string or an array of text parts", param)
		}
		msgs[i] = out
	}
	return msgs, nil
}

// completionPrompt is the legacy endpoint's "prompt": a string, token ids, or
// an array holding one of either.
func completionPrompt(raw json.RawMessage) (text string, ids []int32, err *requestError) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil, badRequest("prompt", "'prompt' is required")
	}
	if json.Unmarshal(raw, &text) == nil {
		return text, nil, nil
	}
	if json.Unmarshal(raw, &ids) == nil {
		if len(ids) == 0 {
			return "", nil, badRequest("prompt", "'prompt' must not be an empty array")
		}
		return "", ids, nil
	}
	var texts []string
	if json.Unmarshal(raw, &texts) == nil {
		if len(texts) != 1 {
			return "", nil, badRequest("prompt", "only one prompt per request is supported, got %d", len(texts))
		}
		return texts[0], nil, nil
	}
	var idLists [][]int32
	if json.Unmarshal(raw, &idLists) == nil {
		if len(idLists) != 1 || len(idLists[0]) == 0 {
			return "", nil, badRequest("prompt", "only one non-empty prompt per request is supported")
		}
		return "", idLists[0], nil
	}
	return "", nil, badRequest("prompt", "Invalid type for 'prompt': expected a string, an array of token ids, or an array holding one of them")
}
