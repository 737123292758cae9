package grammar

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

func schemaGrammar(t *testing.T, schema string) *Grammar {
	t.Helper()
	src, err := SchemaToGBNF([]byte(schema))
	if err != nil {
		t.Fatalf("SchemaToGBNF(%s): %v", schema, err)
	}
	return mustParse(t, src)
}

func TestSchemaKeepsPropertyOrder(t *testing.T) {
	g := schemaGrammar(t, `{"type": "object", "properties": {"zeta": {"type": "integer"}, "alpha": {"type": "integer"},
		"mid": {"type": "object", "properties": {"y": {"type": "null"}, "b": {"type": "null"}}, "required": ["y", "b"]}},
		"required": ["zeta", "alpha", "mid"]}`)
	for text, want := range map[string]bool{
		`{"zeta": 1, "alpha": 2, "mid": {"y": null, "b": null}}`: true,
		`{"alpha": 2, "zeta": 1, "mid": {"y": null, "b": null}}`: false,
		`{"zeta": 1, "alpha": 2, "mid": {"b": null, "y": null}}`: false,
	} {
		if g.Match(text) != want {
			t.Errorf("Match(%s) = %v, want %v", text, !want, want)
		}
	}
	// required names missing from properties come after them, in required's order
	g = schemaGrammar(t, `{"type": "object", "properties": {"b": {"type": "null"}}, "additionalProperties": {"type": "null"}, "required": ["z", "b", "a"]}`)
	if !g.Match(`{"b": null, "z": null, "a": null}`) || g.Match(`{"b": null, "a": null, "z": null}`) {
		t.Error("required members outside properties are not in required's order")
	}
}

// numberCases are bounds and numbers on both sides of them.
var numberCases = []struct {
	schema   string
	lo, hi   string // the range, "" for none
	loX, hiX bool   // exclusive ends
}{
	{`{"type": "number", "minimum": -3.5, "exclusiveMaximum": 2.25}`, "-3.5", "2.25", false, true},
	{`{"type": "number", "exclusiveMinimum": -3.5, "maximum": 2.25}`, "-3.5", "2.25", true, false},
	{`{"type": "number", "minimum": 0.125, "maximum": 0.5}`, "0.125", "0.5", false, false},
	{`{"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}`, "0", "1", true, true},
	{`{"type": "number", "minimum": -10, "maximum": -9.95}`, "-10", "-9.95", false, false},
	{`{"type": "number", "exclusiveMaximum": -0.5}`, "", "-0.5", false, true},
	{`{"type": "number", "maximum": 0}`, "", "0", false, false},
	{`{"type": "number", "exclusiveMaximum": 0}`, "", "0", false, true},
	{`{"type": "number", "exclusiveMinimum": 0}`, "0", "", true, false},
	{`{"type": "number", "minimum": -2.5}`, "-2.5", "", false, false},
	{`{"type": "number", "minimum": 1.5, "maximum": 1.5}`, "1.5", "1.5", false, false},
	{`{"type": "number", "minimum": 2e1, "maximum": 2.05E1}`, "20", "20.5", false, false},
	{`{"type": "number", "minimum": 99.99, "maximum": 100.01}`, "99.99", "100.01", false, false},
	{`{"type": "number", "minimum": 0.05, "exclusiveMaximum": 0.051}`, "0.05", "0.051", false, true},
	{`{"type": "number", "exclusiveMinimum": 7, "maximum": 8}`, "7", "8", true, false},
	{`{"type": "number", "minimum": 5, "exclusiveMinimum": 5, "maximum": 9, "exclusiveMaximum": 10}`, "5", "9", true, false},
	{`{"type": "integer", "minimum": -3.5, "exclusiveMaximum": 2.25}`, "-3.5", "2.25", false, true},
	{`{"type": "integer", "exclusiveMinimum": -3, "maximum": 7.9}`, "-3", "7.9", true, false},
	{`{"type": "integer", "exclusiveMinimum": -3.5, "exclusiveMaximum": -1}`, "-3.5", "-1", true, true},
	{`{"type": "integer", "minimum": 10}`, "10", "", false, false},
	{`{"type": "integer", "maximum": -10}`, "", "-10", false, false},
}

func inRange(v *big.Rat, lo, hi string, loX, hiX bool) bool {
	if lo != "" {
		l, _ := new(big.Rat).SetString(lo)
		if c := v.Cmp(l); c < 0 || c == 0 && loX {
			return false
		}
	}
	if hi != "" {
		h, _ := new(big.Rat).SetString(hi)
		if c := v.Cmp(h); c > 0 || c == 0 && hiX {
			return false
		}
	}
	return true
}

// TestNumberBoundsAreExact: a bounded number's grammar accepts the numbers
// inside the bounds (written without exponent) and nothing outside them.
func TestNumberBoundsAreExact(t *testing.T) {
	var texts []string
	for i := -1200; i <= 1200; i++ {
		texts = append(texts, fmt.Sprint(i), fmt.Sprintf("%d.%d", i/100, abs(i%100)), fmt.Sprintf("%.3f", float64(i)/1000))
	}
	texts = append(texts, "-0", "-0.0", "0.0", "2.25", "2.2500", "2.2499999", "-3.5000", "-3.50001", "1e0", "0.1250",
		"0.0500", "0.0509999", "0.051", "20.5", "20.50", "20.5000001", "-9.95", "-9.951", "100.01", "100.010", "99.99", "99.989")
	for _, c := range numberCases {
		g := schemaGrammar(t, c.schema)
		integer := strings.Contains(c.schema, "integer")
		for _, text := range texts {
			v, ok := new(big.Rat).SetString(text)
			if !ok {
				t.Fatal(text)
			}
			want := inRange(v, c.lo, c.hi, c.loX, c.hiX) && !strings.ContainsAny(text, "eE") && text != "-0" && text != "-0.0" &&
				!(strings.HasPrefix(text, "-") && v.Sign() == 0)
			if integer {
				want = want && !strings.Contains(text, ".")
			}
			if got := g.Match(text); got != want {
				t.Errorf("%s: Match(%s) = %v, want %v", c.schema, text, got, want)
			}
		}
	}
}

// TestNumberBoundsRandomWalk samples texts from each bounded grammar, byte by
// byte at random, and checks every complete one lies within the bounds and
// reads as a double within them too.
func TestNumberBoundsRandomWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "0123456789.-eE+"
	for _, c := range numberCases {
		g := schemaGrammar(t, c.schema)
		for range 300 {
			st, text := g.Start(), ""
			for len(text) < 40 {
				if st.Complete() && rng.IntN(4) == 0 {
					break
				}
				var next []byte
				for i := range len(alphabet) {
					if _, ok := g.Accept(st, []byte{alphabet[i]}); ok {
						next = append(next, alphabet[i])
					}
				}
				if len(next) == 0 {
					break
				}
				b := next[rng.IntN(len(next))]
				st, _ = g.Accept(st, []byte{b})
				text += string(b)
			}
			if !st.Complete() {
				continue
			}
			v, ok := new(big.Rat).SetString(text)
			if !ok || !inRange(v, c.lo, c.hi, c.loX, c.hiX) {
				t.Errorf("%s: sampled %q, outside the bounds", c.schema, text)
				continue
			}
			f, _ := v.Float64()
			if !inRange(new(big.Rat).SetFloat64(f), c.lo, c.hi, c.loX, c.hiX) && !roundsToBound(f, c.lo, c.hi) {
				t.Errorf("%s: sampled %q reads as the double %v, outside the bounds", c.schema, text, f)
			}
		}
	}
}

// roundsToBound: a bound itself read as a double compares equal to itself.
func roundsToBound(f float64, bounds ...string) bool {
	for _, b := range bounds {
		if r, ok := new(big.Rat).SetString(b); ok && b != "" {
			if g, _ := r.Float64(); g == f {
				return true
			}
		}
	}
	return false
}

func abs(i int) int { return max(i, -i) }

func TestNumberBoundsRefused(t *testing.T) {
	for schema, keyword := range map[string]string{
		`{"type": "number", "minimum": 0.1234567890123456789}`:      "minimum",
		`{"type": "number", "exclusiveMaximum": 12345678901234567}`: "exclusiveMaximum",
		`{"type": "number", "minimum": 3, "maximum": 2}`:            "minimum",
		`{"type": "number", "minimum": 2, "exclusiveMaximum": 2}`:   "minimum",
		`{"type": "integer", "minimum": 2.1, "maximum": 2.9}`:       "minimum",
		`{"type": "integer", "maximum": 1e30}`:                      "maximum",
		`{"type": "number", "maximum": "ten"}`:                      "maximum",
	} {
		_, err := SchemaToGBNF([]byte(schema))
		var se *SchemaError
		if !errors.As(err, &se) || se.Keyword != keyword {
			t.Errorf("%s: error %v, want one naming %q", schema, err, keyword)
		}
	}
}

// TestRemaining: the fewest characters that complete the text so far.
func TestRemaining(t *testing.T) {
	g := mustParse(t, `root ::= "{" ws ("\"a\"" ws ":" ws v ("," ws v)*)? "}"
v ::= "[" v? "]" | [0-9]+ | "null"
ws ::= " "?`)
	for _, c := range []struct {
		text string
		want int
	}{
		{"", 2}, {"{", 1}, {"{ ", 1}, {`{"a"`, 3}, {`{"a":`, 2}, {`{"a":[[`, 3}, {`{"a":[[1`, 3}, {`{"a":1,`, 2}, {`{"a":n`, 4}, {"{}", 0},
	} {
		st, ok := g.AcceptString(g.Start(), c.text)
		if !ok {
			t.Fatalf("%q rejected", c.text)
		}
		if got := g.Remaining(st); got != c.want {
			t.Errorf("Remaining after %q = %d, want %d", c.text, got, c.want)
		}
	}
}

func TestFormatsAreValidValues(t *testing.T) {
	date := schemaGrammar(t, `{"type": "string", "format": "date"}`)
	for text, want := range map[string]bool{
		`"2024-01-31"`: true, `"2024-04-30"`: true, `"2024-04-31"`: false, `"2023-02-28"`: true, `"2023-02-29"`: false,
		`"2023-02-30"`: false, `"2023-11-30"`: true, `"2023-12-31"`: true, `"2023-13-01"`: false, `"2023-00-10"`: false, `"2023-06-00"`: false,
	} {
		if date.Match(text) != want {
			t.Errorf("date Match(%s) = %v, want %v", text, !want, want)
		}
	}
	str := schemaGrammar(t, `{"type": "string", "minLength": 2}`)
	for text, want := range map[string]bool{`"\u00e9\u00e8"`: true, `"\ud83d\ude00"`: false, `"😀😀"`: true, `"\uDFFF\uE000"`: false, `"\uE000\uFFFF"`: true} {
		if str.Match(text) != want {
			t.Errorf("string Match(%s) = %v, want %v", text, !want, want)
		}
	}
}

// TestAdditionalMembersNameNoProperty: a reader keeps only one of two
// members of the same name, so an additional member never takes a
// property's name (nor spells it with escapes).
func TestAdditionalMembersNameNoProperty(t *testing.T) {
	g := schemaGrammar(t, `{"type": "object", "properties": {"a": {"type": "integer"}, "ab": {"type": "integer"}, "é\"": {"type": "null"}},
		"additionalProperties": {"type": "string"}}`)
	for text, want := range map[string]bool{
		`{"a": 1, "ab": 2, "b": "x"}`:       true,
		`{"a": 1, "abc": "x"}`:              true,
		`{"a": 1, "": "x", "x\u0061": "y"}`: true,
		`{"a": 1, "é": "x", "éx": "y"}`:     true,
		`{"a": 1, "a": "x"}`:                false,
		`{"a": 1, "ab": 2, "ab": "x"}`:      false,
		`{"\u0061": "x"}`:                   false,
		`{"é\"": null, "é\"": "x"}`:         false,
		`{"a": 1, "b": "x", "a": "y"}`:      false,
	} {
		if g.Match(text) != want {
			t.Errorf("Match(%s) = %v, want %v", text, !want, want)
		}
	}
}

// TestFittingBitsAgreeWithRemaining: the tokens FittingBits keeps are those
// the grammar accepts and after which Remaining is within the bound, at
// states along random texts.
func TestFittingBitsAgreeWithRemaining(t *testing.T) {
	g := schemaGrammar(t, `{"type": "object", "properties": {"name": {"type": "string", "maxLength": 6}, "n": {"type": "number", "minimum": -2.5, "maximum": 40},
		"tags": {"type": "array", "items": {"enum": ["ab", "é"]}, "maxItems": 3}}, "required": ["name", "n"]}`)
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"{", "}", "[", "]", `"`, ":", ",", " ", "n", "a", "m", "e", "1", "0", "-", ".", "b", "é", "\xc3", "\xa9", "tags", `"name"`, `": "`, "ab", `"]}`}
	pieces := make([][]byte, 0, 300)
	for range 300 {
		var p string
		for range 1 + rng.IntN(3) {
			p += alphabet[rng.IntN(len(alphabet))]
		}
		pieces = append(pieces, []byte(p))
	}
	m := NewMasker(g, NewVocab(pieces))
	for walk := range 40 {
		st := g.Start()
		for step := 0; step < 30; step++ {
			for _, within := range []int{0, 1, 3, 8, 30} {
				got, n := m.FittingBits(st, within)
				count := 0
				for id, p := range pieces {
					after, ok := g.Accept(st, p)
					want := ok && g.Remaining(after) <= within
					if has := got[id>>6]&(1<<(id&63)) != 0; has != want {
						t.Fatalf("walk %d step %d within %d: token %q kept %v, want %v", walk, step, within, p, has, want)
					}
					if want {
						count++
					}
				}
				if n != count {
					t.Fatalf("count %d, want %d", n, count)
				}
			}
			allowed, n := m.AllowedBits(st)
			if n == 0 {
				break
			}
			var ids []int
			for id := range pieces {
				if allowed[id>>6]&(1<<(id&63)) != 0 {
					ids = append(ids, id)
				}
			}
			st, _ = g.Accept(st, pieces[ids[rng.IntN(len(ids))]])
		}
	}
}
