package tokenizer

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// wpmVocab is a hand-made WordPiece vocabulary: [UNK] [CLS] [SEP], then tokens.
func wpmVocab(tokens ...string) *Vocab {
	v := &Vocab{
		Model:  "bert",
		Tokens: append([]string{"[UNK]", "[CLS]", "[SEP]"}, tokens...),
		Types:  []TokenType{TypeControl, TypeControl, TypeControl},
		BOS:    1, EOS: 2, UNK: 0, EOT: -1, PAD: -1,
		AddBOS: true, AddEOS: true,
	}
	for range tokens {
		v.Types = append(v.Types, TypeNormal)
	}
	return v
}

func wpmWordList(text string) []string {
	var out []string
	wpmWords(text, func(w string) { out = append(out, w) })
	return out
}

// Ollama's WordPiece case, and its word splitting.
func TestWordPieceOllamaCases(t *testing.T) {
	tok := mustNew(t, wpmVocab("▁hello", "▁world", "s", "▁!", "▁@", "▁#"))
	ids := tok.Encode("Hello world!", true, false)
	require.Equal(t, []int32{1, 3, 4, 6, 2}, ids)
	require.Equal(t, "hello world!", tok.Decode(ids), "[CLS] and [SEP] are control tokens: no text")
	require.Equal(t, []int32{3, 5, 4, 5, 6, 0}, tok.Encode("hellos worlds!x", false, false), "continuation pieces; a word that cannot be covered is [UNK]")
	require.Equal(t, "hellos", tok.Decode([]int32{3, 5}))
	require.Equal(t, []int32{1, 3, 2}, tok.Encode("[CLS]hello[SEP]", false, true))

	require.Equal(t, []string{"▁hey", "▁friend", "▁!", "▁how", "▁are", "▁you", "▁?", "▁!", "▁?"}, wpmWordList("Hey friend!     How are you?!?"))
	require.Equal(t, []string{"▁野", "▁口", "▁里", "▁佳", "▁noguchi", "▁rika"}, wpmWordList("野口里佳 Noguchi Rika"))
}

func TestWordPieceNormalization(t *testing.T) {
	require.Equal(t, []string{"▁apfel", "▁cua", "▁viet", "▁ελληνικα", "▁и"}, wpmWordList("Äpfel Cửa\u00a0Việt Ελληνικά\tй"))
	require.Equal(t, []string{"▁ᄒ" + "ᅡ" + "ᆫ"}, wpmWordList("한"), "Hangul syllables decompose into jamo")
	require.Equal(t, []string{"▁ab", "▁$", "▁c"}, wpmWordList("a\x00b\u200d$c\xff"), "controls and invalid bytes are dropped; ASCII symbols are words")
	require.Empty(t, wpmWordList(" \n\t "))

	long := make([]byte, 101)
	for i := range long {
		long[i] = 'a'
	}
	tok := mustNew(t, wpmVocab("▁a", "a"))
	require.Equal(t, []int32{0}, tok.Encode(string(long), false, false), "words over 100 characters are [UNK]")
	require.Len(t, tok.Encode(string(long[:100]), false, false), 100)
}

// WordPiece does not round trip by design (case, accents, whitespace and the
// spaces around punctuation are lost); decoding gives the normalized words.
func TestWordPieceDecode(t *testing.T) {
	tok := loadGGUF(t, "tokenizer-tests/llamacpp/ggml-vocab-bert-bge.gguf")
	ids := tok.Encode("Hello,  World! Äpfel  unaffable?", true, false)
	require.Equal(t, int32(101), ids[0])
	require.Equal(t, int32(102), ids[len(ids)-1])
	require.Equal(t, "hello, world! apfel unaffable?", tok.Decode(ids))
	require.Equal(t, []int32{101, 7592, 102}, tok.Encode("[CLS]hello[SEP]", false, true))
}

// BERT's normalization drops every nonspacing mark (Unicode Mn) after NFD:
// the vowel signs and viramas of Indic scripts that are Mn (spacing ones,
// Mc, stay), the variation selector of emoji sequences; an enclosing keycap
// (Me) stays. Hangul syllables become their jamo, with or without a final.
func TestWordPieceCombiningMarks(t *testing.T) {
	// नमस्ते: न म स ्(virama, Mn) त े(vowel sign e, Mn)
	require.Equal(t, []string{"▁नमसत"}, wpmWordList("नमस्ते"))
	// हिंदी: ि (Mc) stays, ं (anusvara, Mn) goes, ी (Mc) stays.
	require.Equal(t, []string{"▁हिदी"}, wpmWordList("हिंदी"))
	// தமிழ்: ி is Mc, ் (virama) is Mn.
	require.Equal(t, []string{"▁தமிழ"}, wpmWordList("தமிழ்"))
	// 1️⃣: digit, U+FE0F (Mn) dropped, U+20E3 (Me) kept; ❤️ loses its selector.
	require.Equal(t, []string{"▁1\u20e3", "▁❤"}, wpmWordList("1\ufe0f\u20e3 ❤\ufe0f"))
	// 한국어: syllables with and without a final consonant.
	require.Equal(t, []string{"▁한국어"}, wpmWordList("한국어"))
	// Precomposed and decomposed accents give the same word.
	require.Equal(t, wpmWordList("Crème brûlée"), wpmWordList("Cre\u0300me bru\u0302le\u0301e"))
}
