package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestByteLevelAlphabet(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	enc := byteEncode(string(all))
	raw, ok := byteDecode(enc)
	require.True(t, ok)
	require.Equal(t, all, raw)
	require.Equal(t, "Ġ", byteEncode(" "))
	require.Equal(t, "Ċ", byteEncode("\n"))
	require.Equal(t, "hello", byteEncode("hello"))
	_, ok = byteDecode("<|endoftext|>€")
	require.False(t, ok, "€ is outside the byte-level alphabet")
}

func BenchmarkEncodeWarAndPeaceLlama3(b *testing.B) {
	tok := loadGGUF(b, "tokenizer-tests/llamacpp/ggml-vocab-llama-bpe.gguf")
	text := warAndPeace(b, 1<<30)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		tok.Encode(text, false, false)
	}
}

func llama3(t testing.TB) *Tokenizer {
	t.Helper()
	return loadGGUF(t, "tokenizer-tests/llamacpp/ggml-vocab-llama-bpe.gguf")
}

// The Llama 3 cases of Ollama's tests (shared/tokenizer-tests/README.md):
// special-token text is parsed, no BOS is added.
func TestLlama3OllamaCases(t *testing.T) {
	tok := llama3(t)
	for _, c := range []struct {
		text string
		ids  []int32
	}{
		{"hello world", []int32{15339, 1917}},
		{"hello <|end_of_text|>", []int32{15339, 220, 128001}},
		{"<|begin_of_text|>A B!", []int32{128000, 32, 426, 0}},
		{"<|begin_of_text|>A<|end_of_text|>B!", []int32{128000, 32, 128001, 33, 0}},
		{"<|begin_of_text|>A<|end_of_text|>B<|begin_of_text|>!", []int32{128000, 32, 128001, 33, 128000, 0}},
		{"<|begin_of_text|>A<|end_of_text|>B<|begin_of_text|>!<|end_of_text|>", []int32{128000, 32, 128001, 33, 128000, 0, 128001}},
	} {
		require.Equal(t, c.ids, tok.Encode(c.text, false, true), "%q", c.text)
	}
	for n := 1; n <= 17; n++ {
		var want []int32
		for range n / 3 {
			want = append(want, 931)
		}
		switch n % 3 {
		case 1:
			want = append(want, 15)
		case 2:
			want = append(want, 410)
		}
		require.Equal(t, want, tok.Encode(strings.Repeat("0", n), false, true), "%d zeros", n)
	}
	require.Equal(t, "hello world", tok.Decode([]int32{15339, 1917}))

	for _, s := range []string{"hello", "hello ", "hello  ", " hello", " hello ", " hello  ", "hello world", "请考试我的软件！12345"} {
		require.Equal(t, s, tok.Decode(tok.Encode(s, false, true)), "%q", s)
	}
	for r := rune(0); r <= 0xFF; r++ {
		s := string(r)
		want := s
		if r == 0 {
			want = "\x00" // Ollama drops U+0000 on decode; we give every byte back
		}
		require.Equal(t, want, tok.Decode(tok.Encode(s, false, true)), "U+%04X", r)
	}
	// Without parseSpecial, special-token text is plain text.
	require.NotContains(t, tok.Encode("<|eot_id|>", false, false), int32(128009))
	require.Equal(t, []int32{128009}, tok.Encode("<|eot_id|>", false, true))
	require.Equal(t, []int32{128000, 15339}, tok.Encode("hello", true, false), "add_bos_token")
}

// words is the pre-tokenization of text.
func words(p *preTokenizer, text string) []string {
	var out []string
	p.split(text, func(w string) bool { out = append(out, w); return true })
	return out
}

func TestPreTokenizerSplits(t *testing.T) {
	pre := func(name string) *preTokenizer {
		p, err := newPreTokenizer(name)
		require.NoError(t, err)
		return p
	}
	llama, qwen, gpt2, refact, dsCoder := pre("llama-bpe"), pre("qwen2"), pre("gpt-2"), pre("refact"), pre("deepseek-coder")
	for _, c := range []struct {
		text string
		want []string
	}{
		{"Hello World!", []string{"Hello", " World", "!"}},
		{"I'm don't won't", []string{"I", "'m", " don", "'t", " won", "'t"}},
		{"In 2024 there are 366 days", []string{"In", " ", "202", "4", " there", " are", " ", "366", " days"}},
		{"Hello!! ...world", []string{"Hello", "!!", " ...", "world"}},
		{"Hello    World", []string{"Hello", "   ", " World"}},
		{"Hello\nWorld", []string{"Hello", "\n", "World"}},
		{"Hello, WORLD!! How's it going?", []string{"Hello", ",", " WORLD", "!!", " How", "'s", " it", " going", "?"}},
		{"One line\nTwo lines\n\nThree", []string{"One", " line", "\n", "Two", " lines", "\n\n", "Three"}},
		{"I'LL 'Ve", []string{"I", "'LL", " '", "Ve"}},
		{"a  \n  b\t", []string{"a", "  \n", " ", " b", "\t"}},
	} {
		require.Equal(t, c.want, words(llama, c.text), "llama3 %q", c.text)
	}
	mixed := "Hello, WORLD!! How's it going? 123 一二三"
	require.Equal(t, []string{"Hello", ",", " WORLD", "!!", " How", "'s", " it", " going", "?", " 123", " 一二三"}, words(gpt2, mixed))
	require.Equal(t, []string{"Hello", ",", " WORLD", "!!", " How", "'s", " it", " going", "?", " ", "1", "2", "3", " 一二三"}, words(qwen, mixed))
	require.Equal(t, []string{"One", " line", "\n", "Two", " lines", "\n", "\n", "Three"}, words(refact, "One line\nTwo lines\n\nThree"))
	require.Equal(t, []string{"I", "'", "LL", " a", "  ", " b"}, words(gpt2, "I'LL a   b"), "GPT-2's contractions are lower-case only")
	require.Equal(t, []string{"x", "\n", " y", "1", "2"}, words(dsCoder, "x\n y12"))
}

func TestUnknownPreTokenizerIsAnError(t *testing.T) {
	v := &Vocab{Model: "gpt2", Pre: "no-such-pre", Tokens: []string{"a"}, BOS: -1, EOS: -1, UNK: -1, EOT: -1, PAD: -1}
	_, err := New(v)
	require.ErrorContains(t, err, `unsupported BPE pre-tokenizer "no-such-pre"`)
	require.ErrorContains(t, err, "llama-bpe")
	v.Pre = "gpt-2"
	v.Merges = []string{"ab"}
	_, err = New(v)
	require.ErrorContains(t, err, `merge 0 "ab"`)
}

// bytesHaveTokens reports whether every byte of s has a NORMAL token of its
// own in a byte-level vocabulary: then Decode(Encode(s)) == s. Llama 3 and
// GPT-2 have all 256; the others lack some bytes that never occur in valid
// UTF-8 (C0 C1 F5-FF; deepseek-coder has them as USER_DEFINED tokens, which
// decode to their text, as in llama.cpp), refact and starcoder also F1,
// falcon also F2 and 14 control characters (\v among them).
func bytesHaveTokens(tok *Tokenizer, s string) bool {
	for i := 0; i < len(s); i++ {
		id := tok.bpe.byteSym[s[i]]
		if id >= tok.bpe.vocabSize || tok.vocab.Types[id] != TypeNormal {
			return false
		}
	}
	return true
}

// Byte-level BPE gives back any text whose bytes all have tokens (above),
// invalid UTF-8 included: decoding is byte-exact. WordPiece does not
// (lower-casing, accents, whitespace); see TestWordPieceDecode.
func TestRoundTripBPEVocabs(t *testing.T) {
	book := warAndPeace(t, 1<<30)
	for _, name := range vectorVocabs {
		if name == "bert-bge" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			rel := "tokenizer-tests/llamacpp/ggml-vocab-" + name + ".gguf"
			tok := loadGGUF(t, rel)
			for i, c := range readVectors(t, rel) {
				require.Equal(t, c.text, tok.Decode(c.ids), "case %d: decode of the expected ids", i)
				require.Equal(t, c.text, tok.Decode(tok.Encode(c.text, false, false)), "case %d", i)
				require.Equal(t, c.text, tok.Decode(tok.Encode(c.text, true, false)), "case %d with BOS", i)
			}
			text := book
			if testing.Short() || name != "llama-bpe" {
				text = book[:300_000]
			}
			ids := tok.Encode(text, false, false)
			require.Less(t, len(ids), len(text)/3)
			require.True(t, tok.Decode(ids) == text, "war and peace does not round trip")
			for _, s := range []string{"\xff\xfe", "a\xc3", "\x00\x01 \t\v\u3000x", "<|endoftext|>>>TITLE<<"} {
				if bytesHaveTokens(tok, s) {
					require.Equal(t, s, tok.Decode(tok.Encode(s, false, false)), "%q", s)
				}
			}
		})
	}
}

func TestStreamDecoderBPE(t *testing.T) {
	tok := llama3(t)
	text := "a 🦙 said 你好 ℵ₀ — ok ⚡️ កាន់តែពិសេស"
	ids := tok.Encode(text, true, false)
	d := tok.NewStreamDecoder()
	var out strings.Builder
	split := 0
	for _, id := range ids {
		s := d.Add(id)
		require.True(t, utf8.ValidString(s), "Add returned part of a character: %q", s)
		if !utf8.Valid(tok.Piece(id)) {
			split++
		}
		out.WriteString(s)
	}
	out.WriteString(d.Flush())
	require.Positive(t, split, "some tokens should hold part of a character")
	require.Equal(t, text, out.String())
}

func FuzzEncodeBPE(f *testing.F) {
	for _, s := range []string{"", " ", "Hello world", "  two  spaces ", "\n\t\r", "é🦙你好", "\xff\xc3a", "I'm 123456 ÄÖ", "<|eot_id|>x<s>", "[CLS] x"} {
		f.Add(s)
	}
	var toks []*Tokenizer
	for _, name := range []string{"llama-bpe", "falcon", "deepseek-coder", "mpt", "bert-bge"} {
		toks = append(toks, loadGGUF(f, "tokenizer-tests/llamacpp/ggml-vocab-"+name+".gguf"))
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range toks {
			for _, parseSpecial := range []bool{false, true} {
				ids := tok.Encode(s, true, parseSpecial)
				for _, id := range ids {
					if id < 0 || int(id) >= tok.VocabSize() {
						t.Fatalf("Encode(%q) gave id %d outside the vocabulary", s, id)
					}
				}
				requireEncodeLimitAgrees(t, tok, s, parseSpecial, ids)
				got := tok.Decode(ids)
				if tok.Vocab().Model == "gpt2" && !parseSpecial && bytesHaveTokens(tok, s) && got != s {
					t.Fatalf("%s: Decode(Encode(%q)) = %q", tok.Vocab().Pre, s, got)
				}
			}
		}
	})
}

// A byte-level BPE vocabulary that cannot spell plain text is refused at load,
// instead of dropping the prompt; one that lacks only rare bytes loads and
// says which it drops.
func TestBPEVocabWithoutByteSymbols(t *testing.T) {
	v := &Vocab{Model: "gpt2", Tokens: []string{"hello", "Ġworld", "<|endoftext|>"}, BOS: -1, EOS: 2, UNK: -1, EOT: -1, PAD: -1}
	_, err := New(v)
	require.ErrorContains(t, err, "cannot encode plain text")
	require.ErrorContains(t, err, "'\\t', '\\n'")

	var all []string
	for _, r := range bpeByteChars() {
		all = append(all, string(r))
	}
	v = &Vocab{Model: "gpt2", Tokens: all, BOS: -1, EOS: -1, UNK: -1, EOT: -1, PAD: -1}
	tok, err := New(v)
	require.NoError(t, err)
	require.Empty(t, tok.MissingBytes())

	drop := string(byteChars[0x03])
	var some []string
	for _, s := range all {
		if s != drop {
			some = append(some, s)
		}
	}
	v = &Vocab{Model: "gpt2", Tokens: some, BOS: -1, EOS: -1, UNK: -1, EOT: -1, PAD: -1}
	tok, err = New(v)
	require.NoError(t, err)
	require.Equal(t, []byte{0x03}, tok.MissingBytes())
	require.Equal(t, "ab", tok.Decode(tok.Encode("a\x03b", false, false)))
}

func bpeByteChars() string {
	var b strings.Builder
	for i := range 256 {
		b.WriteRune(byteChars[i])
	}
	return b.String()
}
