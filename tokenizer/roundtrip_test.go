package tokenizer

import (
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

func llama(t testing.TB) *Tokenizer {
	t.Helper()
	return loadGGUF(t, "tokenizer-tests/llamacpp/ggml-vocab-llama-spm.gguf")
}

func warAndPeace(t testing.TB, maxBytes int) string {
	t.Helper()
	data, err := os.ReadFile(testdata.Path(t, "tokenizer-tests/ollama/war-and-peace.txt"))
	require.NoError(t, err)
	if len(data) > maxBytes {
		data = data[:maxBytes]
		for !utf8.Valid(data) { // do not cut a character in two
			data = data[:len(data)-1]
		}
	}
	return string(data)
}

func TestRoundTripWarAndPeace(t *testing.T) {
	tok := llama(t)
	text := warAndPeace(t, 300_000)
	ids := tok.Encode(text, false, false)
	require.Less(t, len(ids), len(text)/3, "the text should mostly merge into whole words")
	require.Equal(t, text, tok.Decode(ids))
	require.Equal(t, text, tok.Decode(tok.Encode(text, true, false)))
}

func TestStreamDecoderHoldsSplitCharacters(t *testing.T) {
	tok := llama(t)
	// Characters Llama 2 has no token for come out as byte tokens, so they arrive
	// one byte at a time.
	text := "a 🦙 said 你好 ℵ₀ — ok ⚡️"
	ids := tok.Encode(text, false, false)
	var bytesTokens int
	for _, id := range ids {
		if tok.vocab.Types[id] == TypeByte {
			bytesTokens++
		}
	}
	require.Greater(t, bytesTokens, 3, "the text should need byte fallback")

	d := tok.NewStreamDecoder()
	var out strings.Builder
	for _, id := range ids {
		s := d.Add(id)
		require.True(t, utf8.ValidString(s), "Add returned part of a character: %q", s)
		out.WriteString(s)
	}
	out.WriteString(d.Flush())
	require.Equal(t, tok.Decode(ids), out.String())
	require.Equal(t, text, out.String())
}

func TestStreamDecoderPassesInvalidBytes(t *testing.T) {
	tok := llama(t)
	b := func(x byte) int32 { return tok.byteTokens[x] }
	d := tok.NewStreamDecoder()
	require.Equal(t, "", d.Add(b(0xE4)), "the start of a three-byte character is held")
	require.Equal(t, "", d.Add(b(0xBD)))
	require.Equal(t, "你", d.Add(b(0xA0)))
	require.Equal(t, "", d.Add(b(0xC3)))
	require.Equal(t, "\xc3A", d.Add(b('A')), "a lead byte that cannot complete is passed on as it is")
	require.Equal(t, "\xff", d.Add(b(0xFF)))
	require.Equal(t, "", d.Add(b(0xF0)))
	require.Equal(t, "\xf0", d.Flush(), "Flush gives back what is held")
	require.Equal(t, "", d.Flush())
}

func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", " ", "Hello world", "  two  spaces ", "\n\t\r", "é🦙你好", "\xff\xc3a", "\xcb ", "<s>x</s>", "<unk>"} {
		f.Add(s)
	}
	tok := llama(f)
	f.Fuzz(func(t *testing.T, s string) {
		// Repeated, so that the text is long enough to be cut.
		long := strings.Repeat(s, 1+300/(len(s)+1))
		escaped := strings.ReplaceAll(" "+long, " ", "▁")
		onePass := spmSession{t: tok}
		if !slices.Equal(onePass.encode(escaped, nil), tok.encodeSPM(long, true, nil, math.MaxInt)) {
			t.Fatalf("cutting %q into pieces changed its ids", s)
		}
		for _, parseSpecial := range []bool{false, true} {
			requireEncodeLimitAgrees(t, tok, long, parseSpecial, tok.Encode(long, true, parseSpecial))
			ids := tok.Encode(s, false, parseSpecial)
			for _, id := range ids {
				if id < 0 || int(id) >= tok.VocabSize() {
					t.Fatalf("Encode(%q) gave id %d outside the vocabulary", s, id)
				}
			}
			// "▁" in the text decodes as a space, and with parseSpecial the
			// special tokens' text is gone: neither can round trip.
			if strings.Contains(s, "▁") || parseSpecial {
				continue
			}
			if got := tok.Decode(ids); got != s {
				t.Fatalf("Decode(Encode(%q)) = %q", s, got)
			}
		}
	})
}

func BenchmarkEncodeWarAndPeace(b *testing.B) {
	tok := llama(b)
	text := warAndPeace(b, 1<<30)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		tok.Encode(text, false, false)
	}
}

// Cutting the text into pieces (encodeSPM) must not change a single id.
func TestCuttingTextKeepsIdsOfOnePass(t *testing.T) {
	tok := llama(t)
	for _, text := range []string{
		warAndPeace(t, 300_000),
		strings.Repeat("нещо на Български 你好世界 🦙🦙 ", 50),
		strings.Repeat("a", 1000) + strings.Repeat(" ", 300) + strings.Repeat("\n", 200),
	} {
		escaped := strings.ReplaceAll(" "+text, " ", "▁")
		s := spmSession{t: tok}
		require.Equal(t, s.encode(escaped, nil), tok.encodeSPM(text, true, nil, math.MaxInt))
	}
}
