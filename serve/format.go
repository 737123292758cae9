package serve

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/grammar"
)

// constrain reads the fields that constrain the answer's form into req's
// grammar: OpenAI's response_format ({"type": "text"}, {"type":
// "json_object"} with an optional "schema", {"type": "json_schema",
// "json_schema": {"schema": ...}}), llama-server's grammar (GBNF text) and
// json_schema, and ollama's format ("json" or a schema). At most one may
// constrain; a schema the converter cannot follow is a 400 naming the keyword.
func (p *params) constrain(req *engine.Request) *requestError {
	type source struct {
		param  string
		gbnf   string
		schema any
	}
	var srcs []source
	switch g := p.Grammar.(type) {
	case nil:
	case string:
		if g != "" {
			srcs = append(srcs, source{param: "grammar", gbnf: g})
		}
	default:
		return badRequest("grammar", "'grammar' must be a string of GBNF rules")
	}
	switch s := p.JSONSchema.(type) {
	case nil:
	case map[string]any, bool:
		srcs = append(srcs, source{param: "json_schema", schema: s})
	default:
		return badRequest("json_schema", "'json_schema' must be a JSON Schema object")
	}
	switch rf := p.ResponseFormat.(type) {
	case nil:
	case map[string]any:
		switch rf["type"] {
		case "text":
		case "json_object":
			var schema any = map[string]any{"type": "object"}
			if s, ok := rf["schema"]; ok {
				schema = s
			}
			srcs = append(srcs, source{param: "response_format", schema: schema})
		case "json_schema":
			js, ok := rf["json_schema"].(map[string]any)
			if !ok {
				return badRequest("response_format", "'response_format' of type json_schema needs a 'json_schema' object")
			}
			schema, ok := js["schema"]
			if !ok {
				schema = map[string]any{}
			}
			srcs = append(srcs, source{param: "response_format", schema: schema})
		default:
			return badRequest("response_format", "'response_format.type' must be \"text\", \"json_object\" or \"json_schema\"")
		}
	default:
		return badRequest("response_format", "Invalid type for 'response_format': expected an object")
	}
	switch f := p.Format.(type) {
	case nil:
	case string:
		switch f {
		case "":
		case "json":
			srcs = append(srcs, source{param: "format", schema: map[string]any{"type": "object"}})
		default:
			return badRequest("format", "'format' must be \"json\" or a JSON Schema object")
		}
	case map[string]any:
		srcs = append(srcs, source{param: "format", schema: f})
	default:
		return badRequest("format", "'format' must be \"json\" or a JSON Schema object")
	}
	if len(srcs) == 0 {
		return nil
	}
	if len(srcs) > 1 {
		return badRequest(srcs[1].param, "'%s' and '%s' both constrain the answer; give one", srcs[0].param, srcs[1].param)
	}
	s := srcs[0]
	gbnf := s.gbnf
	if s.schema != nil {
		raw, err := json.Marshal(s.schema)
		if err != nil {
			return badRequest(s.param, "the schema in '%s' cannot be encoded: %v", s.param, err)
		}
		if gbnf, err = grammar.SchemaToGBNF(raw); err != nil {
			var se *grammar.SchemaError
			if errors.As(err, &se) {
				return badRequest(s.param, "the JSON Schema in '%s' uses %q, which this server cannot enforce: %v", s.param, se.Keyword, se)
			}
			return badRequest(s.param, "the JSON Schema in '%s' cannot be used: %v", s.param, err)
		}
	}
	if _, err := grammar.Parse(gbnf); err != nil {
		return badRequest(s.param, "%s", fmt.Sprintf("the grammar in '%s' is not valid GBNF: %v", s.param, err))
	}
	req.Grammar = gbnf
	return nil
}
