package grammar

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustParse(t testing.TB, src string) *Grammar {
	t.Helper()
	g, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return g
}

func TestMatch(t *testing.T) {
	cases := []struct {
		src     string
		yes, no []string
	}{
		{`root ::= "ab" | "c"`, []string{"ab", "c"}, []string{"", "a", "abc", "b"}},
		{`root ::= [a-c]+ [^x]?`, []string{"a", "abcz", "ccc"}, []string{"", "ax", "d"}},
		{`root ::= "x"{2,4}`, []string{"xx", "xxx", "xxxx"}, []string{"x", "xxxxx"}},
		{`root ::= "x"{3}`, []string{"xxx"}, []string{"xx", "xxxx"}},
		{`root ::= "x"{2,} "y"`, []string{"xxy", "xxxxxy"}, []string{"xy"}},
		{"root ::= a b # comment\na ::= \"é\" | [\\u4e00-\\u9fff]\nb ::= (\"\\n\" | \"\\x41\")*", []string{"é", "中\nA", "éAA"}, []string{"e", "é\r"}},
		{"root ::= \"a\"\n  | \"b\"\n  \"c\"", []string{"a", "bc"}, []string{"b", "c"}},
		{`root ::= . "."`, []string{"x.", "ü."}, []string{"x", "xx"}},
		{`root ::= ("a" | "b" "c")* "d"`, []string{"d", "abcad"}, []string{"bd"}},
		{`root ::= "😀" [^a]`, []string{"😀😀", "😀b"}, []string{"😀a"}},
	}
	for _, c := range cases {
		g := mustParse(t, c.src)
		for _, s := range c.yes {
			if !g.Match(s) {
				t.Errorf("%q does not match %q", c.src, s)
			}
		}
		for _, s := range c.no {
			if g.Match(s) {
				t.Errorf("%q matches %q", c.src, s)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, src := range []string{
		``, `foo ::= "a"`, `root ::= "a`, `root ::= [a`, `root ::= missing`, `root ::= "a" ) `,
		`root ::= root "a"`, `root ::= a | "x"` + "\na ::= b? root\nb ::= \"b\"", `root ::= "a"{3,1}`,
		`root ::= "\q"`, "root ::= \"a\"\nroot ::= \"b\"",
	} {
		if _, err := Parse(src); err == nil {
			t.Errorf("Parse(%q) accepted it", src)
		}
	}
}

func TestPartialUTF8(t *testing.T) {
	g := mustParse(t, `root ::= [а-я]+`)
	b := []byte("да")
	st, ok := g.Accept(g.Start(), b[:1])
	if !ok || st.Complete() {
		t.Fatalf("half a character: ok %v complete %v", ok, st.Complete())
	}
	if st, ok = g.Accept(st, b[1:3]); !ok || st.Complete() {
		t.Fatalf("one and a half characters: ok %v complete %v", ok, st.Complete())
	}
	if st, ok = g.Accept(st, b[3:]); !ok || !st.Complete() {
		t.Fatalf("two characters: ok %v complete %v", ok, st.Complete())
	}
	if _, ok := g.Accept(g.Start(), []byte("é")[:1]); ok {
		t.Error("the first byte of é is accepted by [а-я]")
	}
	if _, ok := g.Accept(g.Start(), []byte{0xff}); ok {
		t.Error("an invalid byte is accepted")
	}
}

func TestExampleGrammars(t *testing.T) {
	samples := map[string]struct{ yes, no []string }{
		"json.gbnf": {
			[]string{`{}`, `{"a": [1, -2.5e3, "x\n\u00e9", true, null, {"b": false}]}`, "{\n  \"k\": []\n}"},
			[]string{`[]`, `{"a" 1}`, `{"a": tru}`, `{"a": "\x"}`},
		},
		"list.gbnf":       {[]string{"- one\n- two\n"}, []string{"", "- \n", "one\n"}},
		"arithmetic.gbnf": {[]string{"1+2=3\n", "(a *b) -4 = x\n"}, []string{"1+=2\n", "1+2\n"}},
		"chess.gbnf":      {[]string{"1. e4 e5\n2. Nf3 Nc6\n", "1. d4 d5\n2. c4 dxc4\n3. O-O-O Qxd8#\n"}, []string{"1. e4\n", "1. e9 e5\n2. a1 a2\n"}},
		"c.gbnf":          {[]string{"", "int main(){return 0;}", "int f(int x){int y = x*2;while(y>1){y = y-1;}return y;}"}, []string{"main(){}", "int f(){return;}"}},
	}
	for name, s := range samples {
		src, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		g := mustParse(t, string(src))
		for _, y := range s.yes {
			if !g.Match(y) {
				t.Errorf("%s: %q does not match", name, y)
			}
		}
		for _, n := range s.no {
			if g.Match(n) {
				t.Errorf("%s: %q matches", name, n)
			}
		}
	}
}

func TestMasker(t *testing.T) {
	pieces := [][]byte{[]byte("{"), []byte("}"), []byte(" \""), []byte("\""), []byte("ab"), []byte("a\""), nil, []byte("é"), {0xc3}, {0xa9}, []byte("{\""), []byte("x")}
	v := NewVocab(pieces)
	g := mustParse(t, `root ::= "{" " "? "\"" [a-zé]* "\"" "}"`)
	m := NewMasker(g, v)
	check := func(prefix string, want string) {
		t.Helper()
		st, ok := g.AcceptString(g.Start(), prefix)
		if !ok {
			t.Fatalf("prefix %q rejected", prefix)
		}
		allow := make([]bool, len(pieces))
		m.Allowed(st, allow)
		var got []string
		for id, a := range allow {
			if a {
				got = append(got, string(pieces[id]))
			}
		}
		if g := strings.Join(got, "|"); g != want {
			t.Errorf("after %q: allowed %q, want %q", prefix, g, want)
		}
		// every allowed token is accepted by Accept and the others are not
		for id, p := range pieces {
			if len(p) == 0 {
				continue
			}
			_, ok := g.Accept(st, p)
			if ok != allow[id] {
				t.Errorf("after %q: token %q: Accept %v, mask %v", prefix, p, ok, allow[id])
			}
		}
	}
	check("", "{|{\"")
	check("{", " \"|\"")
	check("{\"", "\"|ab|a\"|é|\xc3|x")
	check("{\"\xc3", "\xa9")
}
