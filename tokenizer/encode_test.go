package tokenizer

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// smallVocab is a hand-made SentencePiece vocabulary: <unk> <s> </s>, then the
// given NORMAL tokens with their scores, then user-defined tokens, then
// (withBytes) the 256 byte tokens.
func smallVocab(normal []string, scores []float32, userDefined []string, withBytes bool) *Vocab {
	v := &Vocab{
		Model:  "llama",
		Tokens: []string{"<unk>", "<s>", "</s>"},
		Scores: []float32{0, 0, 0},
		Types:  []TokenType{TypeUnknown, TypeControl, TypeControl},
		BOS:    1, EOS: 2, UNK: 0, EOT: -1, PAD: -1,
		AddBOS: true,
	}
	for i, s := range normal {
		v.Tokens = append(v.Tokens, s)
		v.Scores = append(v.Scores, scores[i])
		v.Types = append(v.Types, TypeNormal)
	}
	for _, s := range userDefined {
		v.Tokens = append(v.Tokens, s)
		v.Scores = append(v.Scores, 0)
		v.Types = append(v.Types, TypeUserDefined)
	}
	if withBytes {
		for b := range 256 {
			v.Tokens = append(v.Tokens, fmt.Sprintf("<0x%02X>", b))
			v.Scores = append(v.Scores, 0)
			v.Types = append(v.Types, TypeByte)
		}
	}
	return v
}

func mustNew(t *testing.T, v *Vocab) *Tokenizer {
	t.Helper()
	tok, err := New(v)
	require.NoError(t, err)
	return tok
}

// texts maps ids back to token strings, so failures read as tokens.
func texts(tok *Tokenizer, ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = tok.Token(id)
	}
	return out
}

func TestEncodeMergesHighestScoringPairFirst(t *testing.T) {
	for _, c := range []struct {
		name   string
		text   string
		tokens []string
		scores []float32
		want   []string
	}{
		{"right pair scores higher", "abc", []string{"a", "b", "c", "ab", "bc"}, []float32{0, 0, 0, -2, -1}, []string{"a", "bc"}},
		{"left pair scores higher", "abc", []string{"a", "b", "c", "ab", "bc"}, []float32{0, 0, 0, -1, -2}, []string{"ab", "c"}},
		{"tie goes to the leftmost pair", "abc", []string{"a", "b", "c", "ab", "bc"}, []float32{0, 0, 0, -1, -1}, []string{"ab", "c"}},
		{"a token is reached only through tokens", "abc", []string{"a", "b", "c", "abc"}, []float32{0, 0, 0, 5}, []string{"a", "b", "c"}},
		{"merges chain", "abc", []string{"a", "b", "c", "ab", "abc"}, []float32{0, 0, 0, -3, -4}, []string{"abc"}},
		{"a better later pair wins over an earlier merge", "abcd", []string{"a", "b", "c", "d", "ab", "bc", "cd", "abcd"}, []float32{0, 0, 0, 0, -2, -9, -1, -5}, []string{"abcd"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok := mustNew(t, smallVocab(c.tokens, c.scores, nil, true))
			require.Equal(t, c.want, texts(tok, tok.Encode(c.text, false, false)))
		})
	}
}

func TestEncodeSpacePrefixAndEscaping(t *testing.T) {
	v := smallVocab([]string{"▁", "h", "i", "▁h", "▁hi"}, []float32{0, 0, 0, -1, -2}, nil, true)
	v.AddSpacePrefix = true
	tok := mustNew(t, v)
	require.Equal(t, []string{"▁hi"}, texts(tok, tok.Encode("hi", false, false)))
	require.Equal(t, []string{"▁", "▁hi", "▁hi"}, texts(tok, tok.Encode(" hi hi", false, false)))
	require.Empty(t, tok.Encode("", false, false), "the empty text has no tokens, not even the prefix space")
	require.Equal(t, []int32{1}, tok.Encode("", true, false))

	v.AddSpacePrefix = false
	tok = mustNew(t, v)
	require.Equal(t, []string{"h", "i"}, texts(tok, tok.Encode("hi", false, false)))
}

func TestEncodeByteFallback(t *testing.T) {
	tok := mustNew(t, smallVocab([]string{"a"}, []float32{0}, nil, true))
	require.Equal(t, []string{"a", "<0xC3>", "<0xA9>", "<0x0A>"}, texts(tok, tok.Encode("aé\n", false, false)))
	// Each byte of invalid UTF-8 is a symbol of its own (llama.cpp would take "\xc3a" as one).
	require.Equal(t, []string{"<0xC3>", "a", "<0xFF>"}, texts(tok, tok.Encode("\xc3a\xff", false, false)))

	noBytes := mustNew(t, smallVocab([]string{"a"}, []float32{0}, nil, false))
	require.Equal(t, []string{"a", "<unk>", "a"}, texts(noBytes, noBytes.Encode("aéa", false, false)), "one UNK per unknown character")
}

func TestEncodeSpecialTokens(t *testing.T) {
	v := smallVocab([]string{"▁", "a", "b", "▁a", "▁b", "<", ">", "s", "/"}, []float32{0, 0, 0, -1, -1, 0, 0, 0, 0}, []string{"[ud]"}, true)
	v.AddSpacePrefix = true
	tok := mustNew(t, v)

	// parseSpecial: control text becomes its id, and each run of text after a
	// special token gets its own space prefix, as in llama.cpp.
	require.Equal(t, []string{"<s>", "▁a", "</s>", "▁b"}, texts(tok, tok.Encode("<s>a</s>b", false, true)))
	require.Equal(t, []string{"▁", "<", "s", ">", "a"}, texts(tok, tok.Encode("<s>a", false, false)), "without parseSpecial it is text")
	// User-defined tokens are split out either way.
	require.Equal(t, []string{"▁a", "[ud]", "▁b"}, texts(tok, tok.Encode("a[ud]b", false, false)))
	require.Equal(t, []string{"[ud]"}, texts(tok, tok.Encode("[ud]", false, false)))

	v.AddEOS = true
	tok = mustNew(t, v)
	require.Equal(t, []string{"<s>", "▁a", "</s>"}, texts(tok, tok.Encode("a", true, false)))
}

func TestPartitionTakesLongestSpecialTokenFirst(t *testing.T) {
	v := smallVocab([]string{"a", "b", "c", "d"}, []float32{0, 0, 0, 0}, []string{"ab", "bcd"}, true)
	tok := mustNew(t, v)
	// llama.cpp splits out "bcd" everywhere before it looks for "ab".
	require.Equal(t, []string{"a", "bcd", "ab"}, texts(tok, tok.Encode("abcdab", false, false)))
}

func TestPiecesAndDecode(t *testing.T) {
	v := smallVocab([]string{"▁", "▁hi", "x"}, []float32{0, 0, 0}, []string{"[ud]"}, true)
	v.AddSpacePrefix = true
	tok := mustNew(t, v)
	id := func(s string) int32 { return tok.ids[s] }
	require.Equal(t, []byte(" hi"), tok.Piece(id("▁hi")))
	require.Equal(t, []byte{0xEA}, tok.Piece(id("<0xEA>")))
	require.Equal(t, []byte("A"), tok.Piece(id("<0x41>")))
	require.Empty(t, tok.Piece(1), "control tokens stand for no text")
	require.Equal(t, "▅", string(tok.Piece(0)), "llama.cpp prints an unknown token as ▅")
	require.Nil(t, tok.Piece(-1))
	require.Equal(t, "▁hi", tok.Token(id("▁hi")))
	require.Equal(t, "", tok.Token(99999))

	require.Equal(t, "ã", tok.Decode([]int32{id("<0xC3>"), id("<0xA3>")}))
	require.Equal(t, "hi hi", tok.Decode([]int32{id("▁hi"), id("▁hi")}), "the first token loses its prefix space")
	require.Equal(t, "hi", tok.Decode([]int32{1, id("▁hi"), 2}), "a leading BOS does not keep the prefix space")
	require.Equal(t, " hi", tok.Decode([]int32{id("▁"), id("▁hi")}))
	require.Equal(t, "x[ud]", tok.Decode([]int32{id("x"), id("[ud]")}))

	v.AddSpacePrefix = false
	tok = mustNew(t, v)
	require.Equal(t, " hi", tok.Decode([]int32{id("▁hi")}))
}

func TestSpecialIdsAndEndOfGeneration(t *testing.T) {
	v := smallVocab([]string{"a"}, []float32{0}, []string{"<|end|>"}, false)
	tok := mustNew(t, v)
	require.Equal(t, int32(1), tok.BOS())
	require.Equal(t, int32(2), tok.EOS())
	require.Equal(t, len(v.Tokens), tok.VocabSize())
	require.Same(t, v, tok.Vocab())
	require.True(t, tok.IsEOG(2))
	require.False(t, tok.IsEOG(1))
	require.True(t, tok.IsEOG(tok.ids["<|end|>"]), "an end-of-turn token is found by its text, as llama.cpp does")
	require.False(t, tok.IsEOG(tok.ids["a"]))
	var eogs []int32
	for id := range int32(len(v.Tokens)) {
		if tok.IsEOG(id) {
			eogs = append(eogs, id)
		}
	}
	require.Equal(t, eogs, tok.EOGs(), "EOGs lists exactly the ids IsEOG reports, in order")

	v.EOS = v.BOS // GPT-2 style: one token begins and ends a text
	require.True(t, mustNew(t, v).IsEOG(1))
}

func TestNewRejectsBadVocabularies(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(v *Vocab)
		errs   []string
	}{
		{"unsupported model", func(v *Vocab) { v.Model = "rwkv" }, []string{`"rwkv"`, "llama"}},
		{"scores of another length", func(v *Vocab) { v.Scores = v.Scores[:2] }, []string{"2 scores", "4 tokens"}},
		{"types of another length", func(v *Vocab) { v.Types = v.Types[:3] }, []string{"3 token types"}},
		{"eos outside the vocabulary", func(v *Vocab) { v.EOS = 4 }, []string{"eos", "4"}},
		{"malformed byte token", func(v *Vocab) { v.Types[3] = TypeByte }, []string{"BYTE", `"a"`}},
		{"empty", func(v *Vocab) { v.Tokens, v.Scores, v.Types = nil, nil, nil }, []string{"empty"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := smallVocab([]string{"a"}, []float32{0}, nil, false)
			c.change(v)
			_, err := New(v)
			require.Error(t, err)
			for _, s := range c.errs {
				require.Contains(t, err.Error(), s)
			}
		})
	}
}
