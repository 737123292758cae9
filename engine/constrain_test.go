package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/grammar"
	"github.com/conveyor-llm/conveyor/internal/testdata"
	"github.com/conveyor-llm/conveyor/tokenizer"
)

// testSchemas are the kinds of schemas real programs send.
var testSchemas = []string{
	`{"type":"string"}`,
	`{"type":"integer"}`,
	`{"type":"number"}`,
	`{"type":"boolean"}`,
	`{"type":"null"}`,
	`{"type":["string","null"]}`,
	`{"enum":["red","green","blue"]}`,
	`{"const":{"a":1}}`,
	`{"type":"string","minLength":2,"maxLength":5}`,
	`{"type":"string","pattern":"^[A-Z]{2}-[0-9]{3}$"}`,
	`{"type":"string","pattern":"^(cat|dog)s?$"}`,
	`{"type":"string","format":"date"}`,
	`{"type":"string","format":"time"}`,
	`{"type":"string","format":"date-time"}`,
	`{"type":"string","format":"uuid"}`,
	`{"type":"integer","minimum":1,"maximum":12}`,
	`{"type":"integer","minimum":-40,"maximum":125}`,
	`{"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":1000}`,
	`{"type":"integer","minimum":18}`,
	`{"type":"integer","maximum":-3}`,
	`{"type":"number","minimum":0,"maximum":1}`,
	`{"type":"number","minimum":0}`,
	`{"type":"array","items":{"type":"integer"}}`,
	`{"type":"array","items":{"type":"boolean"},"minItems":2,"maxItems":3}`,
	`{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}`,
	`{"type":"array","prefixItems":[{"type":"boolean"}],"items":{"type":"null"},"maxItems":3}`,
	`{"type":"object","properties":{"name":{"type":"string","maxLength":8},"age":{"type":"integer","minimum":0,"maximum":150}},"required":["name","age"]}`,
	`{"type":"object","properties":{"a":{"type":"boolean"},"b":{"type":"null"},"c":{"type":"integer"}},"required":["b"]}`,
	`{"type":"object","properties":{"a":{"type":"boolean"},"b":{"type":"null"}}}`,
	`{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"],"additionalProperties":{"type":"boolean"}}`,
	`{"type":"object","additionalProperties":{"type":"integer","minimum":0,"maximum":9}}`,
	`{"anyOf":[{"type":"integer"},{"type":"string","maxLength":3}]}`,
	`{"oneOf":[{"type":"object","properties":{"kind":{"const":"circle"},"r":{"type":"number","minimum":0}},"required":["kind","r"]},{"type":"object","properties":{"kind":{"const":"square"},"side":{"type":"integer","minimum":1,"maximum":9}},"required":["kind","side"]}]}`,
	`{"$defs":{"point":{"type":"object","properties":{"x":{"type":"integer","minimum":0,"maximum":99},"y":{"type":"integer","minimum":0,"maximum":99}},"required":["x","y"]}},"type":"object","properties":{"from":{"$ref":"#/$defs/point"},"to":{"$ref":"#/$defs/point"}},"required":["from","to"]}`,
	`{"definitions":{"node":{"type":"object","properties":{"v":{"type":"integer","minimum":0,"maximum":9},"next":{"anyOf":[{"$ref":"#/definitions/node"},{"type":"null"}]}},"required":["v","next"]}},"$ref":"#/definitions/node"}`,
	`{"type":"object","properties":{"user":{"type":"object","properties":{"tags":{"type":"array","items":{"enum":["a","b"]},"maxItems":2},"ok":{"type":"boolean"}},"required":["tags","ok"]}},"required":["user"]}`,
	`{"type":"array","items":{"type":"string","format":"date"},"minItems":1,"maxItems":2}`,
	`{"type":"object","properties":{"status":{"enum":["ok","error",null,1]}},"required":["status"]}`,
}

// validate checks v against the subset of JSON Schema the converter handles.
func validate(v any, s any, root any) error {
	sch, ok := s.(map[string]any)
	if !ok {
		if s == true {
			return nil
		}
		return fmt.Errorf("schema %v accepts nothing", s)
	}
	if ref, ok := sch["$ref"].(string); ok {
		var t any = root
		for _, p := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			t = t.(map[string]any)[p]
		}
		return validate(v, t, root)
	}
	if c, ok := sch["const"]; ok {
		a, _ := json.Marshal(c)
		b, _ := json.Marshal(v)
		if string(a) != string(b) {
			return fmt.Errorf("%s is not the const %s", b, a)
		}
	}
	if e, ok := sch["enum"].([]any); ok {
		b, _ := json.Marshal(v)
		found := false
		for _, x := range e {
			a, _ := json.Marshal(x)
			found = found || string(a) == string(b)
		}
		if !found {
			return fmt.Errorf("%s is not in the enum", b)
		}
	}
	for _, kw := range []string{"anyOf", "oneOf"} {
		if alts, ok := sch[kw].([]any); ok {
			n := 0
			for _, a := range alts {
				if validate(v, a, root) == nil {
					n++
				}
			}
			if n == 0 || kw == "oneOf" && n > 1 {
				return fmt.Errorf("%v matches %d of the %s branches", v, n, kw)
			}
		}
	}
	if t, ok := sch["type"]; ok {
		types, ok := t.([]any)
		if !ok {
			types = []any{t}
		}
		match := false
		for _, t := range types {
			match = match || isType(v, t.(string))
		}
		if !match {
			return fmt.Errorf("%#v is not of type %v", v, t)
		}
	}
	num := func(k string) (float64, bool) { f, ok := sch[k].(float64); return f, ok }
	switch x := v.(type) {
	case string:
		n := len([]rune(x))
		if lo, ok := num("minLength"); ok && float64(n) < lo {
			return fmt.Errorf("%q is shorter than %v", x, lo)
		}
		if hi, ok := num("maxLength"); ok && float64(n) > hi {
			return fmt.Errorf("%q is longer than %v", x, hi)
		}
		if p, ok := sch["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(x) {
			return fmt.Errorf("%q does not match %s", x, p)
		}
		formats := map[string]string{
			"date": `^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$`, "time": `^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$`,
			"date-time": `^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$`,
			"uuid":      `^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`,
		}
		if f, ok := sch["format"].(string); ok && formats[f] != "" && !regexp.MustCompile(formats[f]).MatchString(x) {
			return fmt.Errorf("%q is not a %s", x, f)
		}
	case float64:
		if lo, ok := num("minimum"); ok && x < lo {
			return fmt.Errorf("%v < minimum %v", x, lo)
		}
		if hi, ok := num("maximum"); ok && x > hi {
			return fmt.Errorf("%v > maximum %v", x, hi)
		}
		if lo, ok := num("exclusiveMinimum"); ok && x <= lo {
			return fmt.Errorf("%v <= exclusiveMinimum %v", x, lo)
		}
		if hi, ok := num("exclusiveMaximum"); ok && x >= hi {
			return fmt.Errorf("%v >= exclusiveMaximum %v", x, hi)
		}
	case []any:
		if lo, ok := num("minItems"); ok && float64(len(x)) < lo {
			return fmt.Errorf("%d items < minItems %v", len(x), lo)
		}
		if hi, ok := num("maxItems"); ok && float64(len(x)) > hi {
			return fmt.Errorf("%d items > maxItems %v", len(x), hi)
		}
		prefix, _ := sch["prefixItems"].([]any)
		for i, item := range x {
			var is any = true
			if i < len(prefix) {
				is = prefix[i]
			} else if it, ok := sch["items"]; ok {
				is = it
			} else if prefix != nil {
				is = false
			}
			if err := validate(item, is, root); err != nil {
				return fmt.Errorf("item %d: %w", i, err)
			}
		}
	case map[string]any:
		props, _ := sch["properties"].(map[string]any)
		req, _ := sch["required"].([]any)
		for _, r := range req {
			if _, ok := x[r.(string)]; !ok {
				return fmt.Errorf("required %q is missing", r)
			}
		}
		for k, val := range x {
			var ps any
			if p, ok := props[k]; ok {
				ps = p
			} else if ap, ok := sch["additionalProperties"]; ok {
				ps = ap
			} else if props != nil {
				ps = false
			} else {
				ps = true
			}
			if err := validate(val, ps, root); err != nil {
				return fmt.Errorf("property %q: %w", k, err)
			}
		}
	}
	return nil
}

func isType(v any, t string) bool {
	switch x := v.(type) {
	case nil:
		return t == "null"
	case bool:
		return t == "boolean"
	case string:
		return t == "string"
	case float64:
		return t == "number" || t == "integer" && x == math.Trunc(x)
	case []any:
		return t == "array"
	case map[string]any:
		return t == "object"
	}
	return false
}

// TestJSONSchemaSampling samples answers for each schema from the stories
// model with temperature and several seeds; each must be complete JSON that
// validates against its schema.
func TestJSONSchemaSampling(t *testing.T) {
	require.GreaterOrEqual(t, len(testSchemas), 30)
	m := loadStories(t)
	s, err := m.NewSession(SessionOptions{})
	require.NoError(t, err)
	defer s.Close()
	// Stories text runs long inside a string; a bias on the tokens that close
	// strings and containers makes answers end well within MaxTokens.
	bias := map[int32]float32{}
	for id := range m.Tokenizer().VocabSize() {
		switch p := string(m.Tokenizer().Piece(int32(id))); {
		case strings.ContainsAny(p, "}]"):
			bias[int32(id)] = 10
		case strings.Contains(p, `"`):
			bias[int32(id)] = 5
		}
	}
	for i, schema := range testSchemas {
		var root any
		require.NoError(t, json.Unmarshal([]byte(schema), &root))
		for seed := range uint64(2) {
			req := Request{Prompt: "Once upon a time", MaxTokens: 400, JSONSchema: schema,
				Sampling: Sampling{Temperature: 0.9, Seed: seed + 1, TopP: 1, LogitBias: bias}}
			res, text := generate(t, s, req)
			require.Equal(t, "eog", res.StopReason, "schema %d seed %d: %q", i, seed, text)
			require.Equal(t, res.Text, text)
			var v any
			require.NoError(t, json.Unmarshal([]byte(text), &v), "schema %d seed %d: %q", i, seed, text)
			require.NoError(t, validate(v, root, root), "schema %d seed %d: %s", i, seed, text)
		}
	}
}

// TestGrammarEndsWithinMaxTokens: with no bias toward closing, a schema's
// answer still ends complete and valid when MaxTokens leaves little room
// beyond the shortest valid answer: the sampler keeps the rest completable.
func TestGrammarEndsWithinMaxTokens(t *testing.T) {
	m := loadStories(t)
	s, err := m.NewSession(SessionOptions{})
	require.NoError(t, err)
	defer s.Close()
	for i, schema := range testSchemas {
		var root any
		require.NoError(t, json.Unmarshal([]byte(schema), &root))
		g, err := Request{JSONSchema: schema}.compileGrammar()
		require.NoError(t, err)
		shortest := g.Remaining(g.Start())
		for seed := range uint64(2) {
			req := Request{Prompt: "Once upon a time", MaxTokens: shortest + 8 + int(seed)*40, JSONSchema: schema,
				Sampling: Sampling{Temperature: 0.9, Seed: seed + 1, TopP: 1}}
			res, text := generate(t, s, req)
			var v any
			require.NoError(t, json.Unmarshal([]byte(text), &v), "schema %d seed %d (%s, %d tokens): %q", i, seed, res.StopReason, len(res.GeneratedIDs), text)
			require.NoError(t, validate(v, root, root), "schema %d seed %d: %s", i, seed, text)
			require.LessOrEqual(t, len(res.GeneratedIDs), req.MaxTokens)
		}
	}
}

// TestExampleGrammarsSampling samples from llama.cpp-style example grammars.
func TestExampleGrammarsSampling(t *testing.T) {
	m := loadStories(t)
	s, err := m.NewSession(SessionOptions{})
	require.NoError(t, err)
	defer s.Close()
	for _, name := range []string{"json", "list", "arithmetic", "chess", "c"} {
		src, err := os.ReadFile(filepath.Join("..", "grammar", "testdata", name+".gbnf"))
		require.NoError(t, err)
		g, err := grammar.Parse(string(src))
		require.NoError(t, err)
		for seed := range uint64(2) {
			res, text := generate(t, s, Request{Prompt: "Once upon a time", MaxTokens: 120, Grammar: string(src),
				Sampling: Sampling{Temperature: 0.8, Seed: seed, TopP: 1}})
			st, ok := g.AcceptString(g.Start(), text)
			require.True(t, ok, "%s seed %d: %q is outside the grammar", name, seed, text)
			if res.StopReason == "eog" {
				require.True(t, st.Complete(), "%s seed %d: %q ended incomplete", name, seed, text)
			}
			t.Logf("%s seed %d (%s): %q", name, seed, res.StopReason, text)
		}
	}
}

func TestGrammarErrors(t *testing.T) {
	m := loadStories(t)
	s, err := m.NewSession(SessionOptions{})
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Generate(context.Background(), Request{Grammar: `root ::= "a`, MaxTokens: 4}, nil)
	require.Error(t, err)
	_, err = s.Generate(context.Background(), Request{JSONSchema: `{"type":"object","not":{}}`, MaxTokens: 4}, nil)
	var se *grammar.SchemaError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "not", se.Keyword)
	// greedy decoding in a grammar: the answer is its only string
	res, text := generate(t, s, Request{Grammar: `root ::= "yes" | "no"`, MaxTokens: 20, Sampling: DefaultSampling()})
	require.Contains(t, []string{"yes", "no"}, text)
	require.Equal(t, "eog", res.StopReason)
}

// TestMaskAgreesWithAccept: on the 32k SentencePiece vocabulary (byte-fallback
// tokens, "▁" spaces), the trie mask allows exactly the tokens that matching
// each token's bytes accepts, at several points of the JSON grammar,
// including inside a character split over tokens and at the first token.
func TestMaskAgreesWithAccept(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "grammar", "testdata", "json.gbnf"))
	require.NoError(t, err)
	g, err := grammar.Parse(string(src))
	require.NoError(t, err)
	f, err := gguf.Open(testdata.Path(t, "tokenizer-tests/llamacpp/ggml-vocab-llama-spm.gguf"))
	require.NoError(t, err)
	tok, err := tokenizer.FromGGUF(f)
	require.NoError(t, err)
	var gv grammarVocab
	for _, prefix := range []string{"", "{", `{"name": "ab`, "{\"k\": \"\xc3", `{"a": 1`, `{"a": [tru`} {
		c := newConstraint(g, &gv, tok, false)
		if prefix != "" {
			st, ok := g.AcceptString(g.Start(), prefix)
			require.True(t, ok, prefix)
			c.st, c.atHead = st, false
		}
		logits := make([]float32, tok.VocabSize())
		n := c.mask(logits)
		allowed := 0
		for id := range logits {
			ok := c.allowed(int32(id))
			require.Equal(t, ok, !math.IsInf(float64(logits[id]), -1), "after %q: token %d %q", prefix, id, tok.Piece(int32(id)))
			if ok {
				allowed++
			}
		}
		require.Equal(t, allowed, n, prefix)
		require.Positive(t, n, prefix)
	}
}

// TestFastMaskAgreesWithSlow: at states along JSON texts under a
// document-shaped schema (so the stacks nest) — prefixes of valid documents
// cut every few bytes (inside strings, numbers, whitespace, UTF-8
// characters) and random texts sampled under the grammar — the mask the
// masker gives (kept from earlier steps, or built by a new masker) allows
// exactly the tokens that matching each token's bytes accepts, on the 32k
// and the 128k vocabularies.
func TestFastMaskAgreesWithSlow(t *testing.T) {
	schema := `{"type":"object","properties":{"name":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}},
		"n":{"type":"number"},"ok":{"type":"boolean"},"sub":{"type":"object","properties":{"x":{"type":"integer"},"s":{"type":"string"}},"required":["x","s"]}},
		"required":["name","tags","n","ok","sub"]}`
	src, err := grammar.SchemaToGBNF([]byte(schema))
	require.NoError(t, err)
	g, err := grammar.Parse(src)
	require.NoError(t, err)
	docs := []string{
		`{"name": "Zoë \"Z\" 東京", "tags": ["x", "日本語", ""], "n": 12.5, "ok": true, "sub": {"x": -42, "s": "a\u00e9b"}}`,
		"{\n  \"name\": \"\",\n  \"tags\": [],\n  \"n\": 0,\n  \"ok\": false,\n  \"sub\": {\"x\": 7, \"s\": \"ÿ😀\"}\n}",
	}
	for _, v := range []struct {
		file      string
		cut, step int // check a prefix every cut bytes, a sampled state every step tokens
	}{
		{"tokenizer-tests/llamacpp/ggml-vocab-llama-spm.gguf", 3, 2},
		{"tokenizer-tests/llamacpp/ggml-vocab-llama-bpe.gguf", 11, 8},
	} {
		f, err := gguf.Open(testdata.Path(t, v.file))
		require.NoError(t, err)
		tok, err := tokenizer.FromGGUF(f)
		require.NoError(t, err)
		var gv grammarVocab
		n := tok.VocabSize()
		c := newConstraint(g, &gv, tok, false) // one masker throughout, so its caches are used
		check := func(st grammar.State, atHead bool, where string) {
			for _, fresh := range []bool{false, true} {
				cc := c
				if fresh {
					cc = newConstraint(g, &gv, tok, false)
				}
				cc.st, cc.atHead = st, atHead
				work := make([]float32, n)
				got := cc.mask(work)
				want := 0
				for id := range n {
					ok := cc.allowed(int32(id))
					if ok {
						want++
					}
					if ok == math.IsInf(float64(work[id]), -1) {
						t.Fatalf("%s: %s (fresh %v): token %d %q: allowed %v, mask %v", v.file, where, fresh, id, tok.Piece(int32(id)), ok, !ok)
					}
				}
				require.Equal(t, want, got, where)
			}
		}
		checked := 0
		for _, doc := range docs {
			require.True(t, g.Match(doc), doc)
			for i := 0; i < len(doc); i += v.cut {
				st, ok := g.AcceptString(g.Start(), doc[:i])
				require.True(t, ok)
				check(st, i == 0, fmt.Sprintf("after %q", doc[:i]))
				checked++
			}
		}
		rng := rand.New(rand.NewPCG(1, 7))
		s := newConstraint(g, &gv, tok, false)
		logits := make([]float32, n)
		var text []byte
		for step := 0; step < 24 && !s.done(); step++ {
			for i := range logits {
				logits[i] = float32(rng.NormFloat64())
			}
			if step%v.step == 0 {
				check(s.st, s.atHead, fmt.Sprintf("after sampled %q", text))
				checked++
			}
			id, err := s.sample(newSampler(Sampling{Temperature: 1, Seed: uint64(step)}, 4096), logits, 0)
			require.NoError(t, err)
			if tok.IsEOG(id) {
				break
			}
			text = append(text, s.text(id)...)
			s.accept(id)
		}
		t.Logf("%s: %d states checked", v.file, checked)
	}
}
