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
		schema json.RawMessage
	}
	objectSchema := json.RawMessage(`{"type": "object"}`)
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
	if !isNull(p.JSONSchema) {
		if !isSchema(p.JSONSchema) {
			return badRequest("json_schema", "'json_schema' must be a JSON Schema object")
		}
		srcs = append(srcs, source{param: "json_schema", schema: p.JSONSchema})
	}
	if !isNull(p.ResponseFormat) {
		var rf map[string]json.RawMessage
		if json.Unmarshal(p.ResponseFormat, &rf) != nil {
			return badRequest("response_format", "Invalid type for 'response_format': expected an object")
		}
		var kind string
		_ = json.Unmarshal(rf["type"], &kind)
		switch kind {
		case "text":
		case "json_object":
			schema := objectSchema
			if s, ok := rf["schema"]; ok && !isNull(s) {
				schema = s
			}
			srcs = append(srcs, source{param: "response_format", schema: schema})
		case "json_schema":
			var js map[string]json.RawMessage
			if json.Unmarshal(rf["json_schema"], &js) != nil || js == nil {
				return badRequest("response_format", "'response_format' of type json_schema needs a 'json_schema' object")
			}
			schema, ok := js["schema"]
			if !ok || isNull(schema) {
				schema = json.RawMessage(`{}`)
			}
			srcs = append(srcs, source{param: "response_format", schema: schema})
		default:
			return badRequest("response_format", "'response_format.type' must be \"text\", \"json_object\" or \"json_schema\"")
		}
	}
	if !isNull(p.Format) {
		var f string
		switch {
		case json.Unmarshal(p.Format, &f) == nil && f == "":
		case f == "json":
			srcs = append(srcs, source{param: "format", schema: objectSchema})
		case isSchema(p.Format) && p.Format[0] == '{':
			srcs = append(srcs, source{param: "format", schema: p.Format})
		default:
			return badRequest("format", "'format' must be \"json\" or a JSON Schema object")
		}
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
		var err error
		if gbnf, err = grammar.SchemaToGBNF(s.schema); err != nil {
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

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// isSchema reports whether raw is a JSON object or a boolean, the forms a
// JSON Schema takes.
func isSchema(raw json.RawMessage) bool {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	switch v.(type) {
	case map[string]any, bool:
		return true
	}
	return false
}
