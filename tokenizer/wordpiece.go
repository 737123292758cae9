package tokenizer

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// WordPiece (tokenizer.ggml.model "bert"), as BERT's uncased tokenizers do it:
//
//  1. Normalize: drop NUL, U+FFFD and other control characters; decompose
//     each character (NFD) and drop the combining marks (Unicode M), which
//     strips the accents ("Äpfel" → "Apfel"); a Hangul syllable keeps only
//     its leading consonant, as llama.cpp does; lower-case.
//  2. Split into words at whitespace; every punctuation character (Unicode P
//     or ASCII symbol) and every CJK ideograph is a word of its own.
//  3. Each word becomes the longest vocabulary token that starts it, then the
//     longest continuation token at the rest, and so on; a word that cannot be
//     covered so, or is longer than 100 characters, is one [UNK].
//
// In the GGUF vocabulary a word-initial piece is written with "▁" in front
// ("▁hello") and a continuation piece bare ("ing", BERT's "##ing"), so step 3
// looks up "▁" + word at its start and plain substrings after it.

// wpmMaxWordChars is BERT's max_input_chars_per_word.
const wpmMaxWordChars = 100

var (
	accentOnce sync.Once
	accentMap  map[rune][]rune
)

// stripAccents appends the characters of r's canonical decomposition without
// nonspacing marks (r itself when it has none; nothing for a mark).
func stripAccents(r rune, out []rune) []rune {
	if r < 0x80 {
		return append(out, r)
	}
	if r >= 0xAC00 && r <= 0xD7A3 {
		// A Hangul syllable: llama.cpp keeps the first code point of its
		// decomposition, the leading consonant (한 → ᄒ).
		return append(out, 0x1100+(r-0xAC00)/(21*28))
	}
	accentOnce.Do(func() {
		accentMap = make(map[rune][]rune, 2100)
		for _, e := range strings.Split(accentTable, "|") {
			if e == "" {
				continue
			}
			k, n := utf8.DecodeRuneInString(e)
			accentMap[k] = []rune(e[n:])
		}
	})
	if d, ok := accentMap[r]; ok {
		return append(out, d...)
	}
	if unicode.Is(unicode.M, r) {
		// Every combining mark, spacing ones too (Devanagari's vowel signs
		// ि and ा), as llama.cpp drops them.
		return out
	}
	return append(out, r)
}

func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) || (r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2CEAF) || (r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}

// isBertPunct is BERT's punctuation: Unicode P, or any ASCII character that
// is neither a letter, a digit, a space nor a control.
func isBertPunct(r rune) bool {
	if r < 0x80 {
		return r > ' ' && r < 0x7F && !(r >= '0' && r <= '9') && !(r >= 'a' && r <= 'z') && !(r >= 'A' && r <= 'Z')
	}
	return unicode.IsPunct(r)
}

// wpmWords calls word for each normalized word of text ("▁" + word) until
// word returns false.
func wpmWords(text string, word func(w string) bool) {
	var buf []byte
	var chars []rune
	more := true
	flush := func() {
		if more && len(buf) > len("▁") {
			more = word(string(buf))
		}
		buf = append(buf[:0], "▁"...)
	}
	flush()
	for _, r := range text {
		if !more {
			return
		}
		if r == 0 || r == utf8.RuneError || (unicode.In(r, unicode.C) && r != '\t' && r != '\n' && r != '\r') {
			continue
		}
		if isSpace(r) || unicode.Is(unicode.Zs, r) {
			flush()
			continue
		}
		chars = stripAccents(r, chars[:0])
		for _, c := range chars {
			c = unicode.ToLower(c)
			if isBertPunct(c) || isCJK(c) {
				flush()
				buf = utf8.AppendRune(buf, c)
				flush()
				continue
			}
			buf = utf8.AppendRune(buf, c)
		}
	}
	flush()
}

// encodeWPM appends the tokens of a run of text without special tokens,
// stopping once out holds more than limit.
func (t *Tokenizer) encodeWPM(text string, out []int32, limit int) []int32 {
	wpmWords(text, func(w string) bool {
		if utf8.RuneCountInString(w)-1 > wpmMaxWordChars {
			out = t.appendUNK(out)
			return len(out) <= limit
		}
		start := len(out)
		for i := 0; i < len(w); {
			j := min(len(w), i+t.maxTokenLen)
			for ; j > i; j-- {
				if id, ok := t.ids[w[i:j]]; ok {
					out = append(out, id)
					break
				}
			}
			if j == i {
				out = t.appendUNK(out[:start])
				break
			}
			i = j
		}
		return len(out) <= limit
	})
	return out
}

func (t *Tokenizer) appendUNK(out []int32) []int32 {
	if t.vocab.UNK >= 0 {
		out = append(out, t.vocab.UNK)
	}
	return out
}
