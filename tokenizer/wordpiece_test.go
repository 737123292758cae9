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
	wpmWords(text, func(w string) bool { out = append(out, w); return true })
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
	require.Equal(t, []string{"▁ᄒ"}, wpmWordList("한"), "a Hangul syllable keeps its leading consonant, as llama.cpp does")
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
	// Every combining mark (Unicode M) goes, as llama.cpp drops them.
	// नमस्ते: न म स ्(virama, Mn) त े(vowel sign e, Mn)
	require.Equal(t, []string{"▁नमसत"}, wpmWordList("नमस्ते"))
	// हिंदी: ि (Mc), ं (anusvara, Mn) and ी (Mc) all go.
	require.Equal(t, []string{"▁हद"}, wpmWordList("हिंदी"))
	// தமிழ்: ி (Mc) and ் (virama, Mn) go.
	require.Equal(t, []string{"▁தமழ"}, wpmWordList("தமிழ்"))
	// 1️⃣: digit, U+FE0F (Mn) and U+20E3 (Me) dropped; ❤️ loses its selector.
	require.Equal(t, []string{"▁1", "▁❤"}, wpmWordList("1\ufe0f\u20e3 ❤\ufe0f"))
	// 한국어: each syllable keeps its leading consonant, as llama.cpp does.
	require.Equal(t, []string{"▁\u1112\u1100\u110b"}, wpmWordList("한국어"))
	// Precomposed and decomposed accents give the same word.
	require.Equal(t, wpmWordList("Crème brûlée"), wpmWordList("Cre\u0300me bru\u0302le\u0301e"))
}

// TestWordPieceMatchesLlamaCppScripts: llama.cpp's ids (its tokenizer through
// the oracle, add_special and parse_special off) for texts in many scripts on
// the bge vocabulary: Hangul, Devanagari, Tamil, emoji with keycap, selector
// and skin tone, accents, Cyrillic, Greek, Arabic, Japanese, Thai.
func TestWordPieceMatchesLlamaCppScripts(t *testing.T) {
	tok := loadGGUF(t, "tokenizer-tests/llamacpp/ggml-vocab-bert-bge.gguf")
	for _, tc := range []struct {
		text string
		ids  []int32
	}{
		{"한국어 문장입니다", []int32{1469, 29991, 29999, 1459, 30000, 29999, 29992, 29993}},
		{"नमस्ते दुनिया", []int32{1327, 29867, 29874, 29859, 1325, 29863, 29868}},
		{"தமிழ் மொழி", []int32{100, 100}},
		{"1️⃣ keycap ❤️ love 👍🏽", []int32{1015, 3145, 17695, 100, 2293, 100}},
		{"café naïve résumé", []int32{7668, 15743, 13746}},
		{"Привет мир", []int32{1194, 16856, 10325, 25529, 15290, 22919, 1191, 10325, 16856}},
		{"ελληνικά", []int32{1159, 29727, 29727, 24824, 16177, 18199, 29726, 14608}},
		{"مرحبا بالعالم", []int32{1295, 17149, 29820, 29816, 25573, 1271, 25573, 23673, 29830, 25573, 23673, 22192}},
		{"日本語のテキスト", []int32{1864, 1876, 1950, 1671, 30239, 30227, 30233, 30240}},
		{"กรุงเทพ", []int32{1409, 29953, 29946, 29959, 29948, 29950}},
	} {
		require.Equal(t, tc.ids, tok.Encode(tc.text, false, false), tc.text)
	}
}
