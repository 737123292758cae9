package tokenizer

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Tokenizer turns text into token ids and back. It is immutable once built
// and safe for concurrent use.
type Tokenizer struct {
	vocab        *Vocab
	ids          map[string]int32 // token text → id; a repeated text keeps its last id, as llama.cpp does
	pieces       [][]byte         // what each token stands for in text
	byteTokens   [256]int32       // each byte's token for byte fallback: <0xNN>, else the byte itself; -1 when neither
	specials     []int32          // tokens split out of the text before segmentation, longest first
	eog          map[int32]bool
	innerPairs   map[charPair]struct{} // where encodeSPM must not cut the text (SPM)
	pre          *preTokenizer         // BPE
	bpe          *bpeModel             // BPE
	maxTokenLen  int                   // WordPiece: the longest token, in bytes
	missingBytes []byte                // byte-level BPE: bytes with no symbol
	stripSpace   bool                  // Decode drops the first text's leading space
}

// eogTexts are the token texts llama.cpp treats as ending generation whatever
// the metadata says (chat models' end-of-turn tokens); eotTexts are those it
// takes for EOT when no id is given, in the order we prefer them.
var (
	eotTexts = []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>"}
	eogTexts = []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>"}
)

// New builds a tokenizer for v, which it keeps and must not be changed after.
func New(v *Vocab) (*Tokenizer, error) {
	if !slices.Contains(supportedModels, v.Model) {
		return nil, fmt.Errorf("tokenizer: unsupported model %q (supported: %s)", v.Model, strings.Join(supportedModels, ", "))
	}
	if err := v.check(); err != nil {
		return nil, err
	}
	t := &Tokenizer{
		vocab:  v,
		ids:    make(map[string]int32, len(v.Tokens)),
		pieces: make([][]byte, len(v.Tokens)),
		eog:    map[int32]bool{},
	}
	switch v.Model {
	case "llama":
		t.innerPairs = innerPairs(v.Tokens)
		t.stripSpace = v.AddSpacePrefix
	case "bert":
		t.stripSpace = true
	}
	for i, s := range v.Tokens {
		id := int32(i)
		t.ids[s] = id
		t.maxTokenLen = max(t.maxTokenLen, len(s))
		switch typ := v.typeOf(id); typ {
		case TypeNormal, TypeUserDefined:
			if v.Model == "gpt2" {
				t.pieces[i] = bpePiece(s, typ)
				break
			}
			t.pieces[i] = []byte(strings.ReplaceAll(s, "▁", " "))
			if v.Model == "bert" && len(s) == len("▁.") && strings.ContainsAny(s, ".,!?") {
				t.pieces[i] = t.pieces[i][1:] // "hello!", not "hello !"
			}
		case TypeUnknown:
			t.pieces[i] = []byte("▅") // llama.cpp's rendering of an unknown token
		case TypeByte:
			b, ok := parseByteToken(s)
			if !ok {
				return nil, fmt.Errorf("tokenizer: token %d %q has type BYTE but is not of the form <0xNN>", i, s)
			}
			t.pieces[i] = []byte{b}
		}
		// CONTROL, UNUSED and undefined types stand for no text.
		if typ := v.typeOf(id); typ == TypeControl || typ == TypeUserDefined || typ == TypeUnknown {
			if s != "" {
				t.specials = append(t.specials, id)
			}
		}
	}
	// Longest first, as llama.cpp partitions; equal lengths by id so the
	// order is deterministic.
	slices.SortStableFunc(t.specials, func(a, b int32) int {
		return cmp.Compare(len(v.Tokens[b]), len(v.Tokens[a]))
	})
	if v.Model == "gpt2" {
		var err error
		if t.pre, err = newPreTokenizer(v.Pre); err != nil {
			return nil, err
		}
		if t.bpe, err = newBPEModel(t, t.pre.ignoreMerges); err != nil {
			return nil, err
		}
	}
	for b := range 256 {
		t.byteTokens[b] = -1
		if id, ok := t.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
			t.byteTokens[b] = id
		} else if v.Model == "gpt2" && t.bpe.byteSym[b] < int32(len(v.Tokens)) {
			t.byteTokens[b] = t.bpe.byteSym[b]
		} else if id, ok := t.ids[string([]byte{byte(b)})]; ok {
			t.byteTokens[b] = id
		}
	}
	if v.Model == "gpt2" {
		// Byte-level BPE spells every text with its 256 byte symbols. Real
		// vocabularies lack a few (control characters, bytes that never occur
		// in UTF-8 or only in its rarest planes); those are dropped from a
		// text, as llama.cpp drops them, and listed by MissingBytes. One that
		// cannot spell plain text (tab, newline, printable ASCII) is refused.
		for b := range 256 {
			if t.byteTokens[b] < 0 {
				t.missingBytes = append(t.missingBytes, byte(b))
			}
		}
		var missing []string
		for _, b := range t.missingBytes {
			if b == '\t' || b == '\n' || b == '\r' || (b >= 0x20 && b < 0x7f) {
				missing = append(missing, strconv.QuoteRune(rune(b)))
			}
		}
		if len(missing) > 0 {
			shown := missing[:min(len(missing), 8)]
			more := ""
			if len(missing) > len(shown) {
				more = fmt.Sprintf(" and %d more", len(missing)-len(shown))
			}
			return nil, fmt.Errorf("tokenizer: this GPT-2 (byte-level BPE) vocabulary cannot encode plain text: no token for the byte symbols of %s%s (%d of the 256 bytes missing in all), so a prompt holding them would lose them; the file's vocabulary is broken",
				strings.Join(shown, ", "), more, len(t.missingBytes))
		}
	}
	eot := v.EOT
	for _, s := range eotTexts {
		if id, ok := t.ids[s]; ok && eot < 0 {
			eot = id
		}
	}
	for _, id := range []int32{v.EOS, eot} {
		if id >= 0 {
			t.eog[id] = true
		}
	}
	for _, s := range eogTexts {
		if id, ok := t.ids[s]; ok {
			t.eog[id] = true
		}
	}
	t.harmonyEOG()
	return t, nil
}

// MissingBytes are the bytes a byte-level BPE vocabulary has no symbol for:
// they are dropped from the texts it encodes (as llama.cpp drops them).
func (t *Tokenizer) MissingBytes() []byte { return t.missingBytes }

// parseByteToken reads a byte token's text, "<0xNN>".
func parseByteToken(s string) (byte, bool) {
	if len(s) != 6 || !strings.HasPrefix(s, "<0x") || s[5] != '>' {
		return 0, false
	}
	b, err := strconv.ParseUint(s[3:5], 16, 8)
	return byte(b), err == nil
}

// Vocab is the vocabulary the tokenizer was built from.
func (t *Tokenizer) Vocab() *Vocab { return t.vocab }

// VocabSize is the number of tokens.
func (t *Tokenizer) VocabSize() int { return len(t.vocab.Tokens) }

// BOS is the beginning-of-sequence id, -1 when there is none.
func (t *Tokenizer) BOS() int32 { return t.vocab.BOS }

// EOS is the end-of-sequence id, -1 when there is none.
func (t *Tokenizer) EOS() int32 { return t.vocab.EOS }

// IsEOG reports whether id ends generation: EOS, EOT (given, or found by its
// text as llama.cpp does, e.g. "<|end|>", "<|im_end|>", "<|eot_id|>") and the
// other end-of-turn tokens llama.cpp recognises by text. BOS does not (the
// stories models end a story with BOS and go on), unless it is also EOS.
func (t *Tokenizer) IsEOG(id int32) bool { return t.eog[id] }

// EOGs are the ids IsEOG reports, in ascending order (a few: a caller that
// masks them out of the logits visits these, not the vocabulary).
func (t *Tokenizer) EOGs() []int32 {
	ids := make([]int32, 0, len(t.eog))
	for id := range t.eog {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Token is the raw vocabulary string of id ("▁Hello", "<0x0A>", "<s>"), or ""
// for an id outside the vocabulary.
func (t *Tokenizer) Token(id int32) string {
	if id < 0 || int(id) >= len(t.vocab.Tokens) {
		return ""
	}
	return t.vocab.Tokens[id]
}

// Piece is the bytes token id stands for: "▁" becomes a space, a byte token
// "<0xNN>" that byte, an unknown token "▅" (as llama.cpp prints it), control
// and unused tokens nothing. The slice must not be modified.
func (t *Tokenizer) Piece(id int32) []byte {
	if id < 0 || int(id) >= len(t.pieces) {
		return nil
	}
	return t.pieces[id]
}

// Encode tokenizes text. With addSpecial, BOS is put first and EOS last as the
// vocabulary's AddBOS and AddEOS ask (for WordPiece, [CLS] and [SEP]). With
// parseSpecial, the text of control and unknown tokens ("<s>", "</s>",
// "<|eot_id|>", "[CLS]") becomes their ids; without it that text is tokenized
// like any other. User-defined tokens are always split out, as llama.cpp does.
func (t *Tokenizer) Encode(text string, addSpecial, parseSpecial bool) []int32 {
	out, _ := t.encode(text, addSpecial, parseSpecial, math.MaxInt)
	return out
}

// ErrTooManyTokens is what EncodeLimit returns for a text of more tokens
// than its limit.
var ErrTooManyTokens = errors.New("tokenizer: more tokens than the limit")

// EncodeLimit is Encode for a text that must be at most limit tokens: it
// stops as soon as there are more, with ErrTooManyTokens, so that a huge text
// costs time and memory in proportion to limit, not to its length. Within the
// limit its ids are Encode's.
func (t *Tokenizer) EncodeLimit(text string, addSpecial, parseSpecial bool, limit int) ([]int32, error) {
	if limit < 0 {
		return nil, fmt.Errorf("tokenizer: EncodeLimit's limit must not be negative, got %d", limit)
	}
	out, ok := t.encode(text, addSpecial, parseSpecial, limit)
	if !ok {
		return nil, fmt.Errorf("%w: the text is more than %d tokens", ErrTooManyTokens, limit)
	}
	return out, nil
}

// encode is Encode stopping as soon as there are more than limit tokens
// (ok false).
func (t *Tokenizer) encode(text string, addSpecial, parseSpecial bool, limit int) (out []int32, ok bool) {
	v := t.vocab
	out = make([]int32, 0, min(len(text)/3, limit)+2)
	if addSpecial && v.AddBOS && v.BOS >= 0 {
		out = append(out, v.BOS)
	}
	frags, ok := t.partition(text, parseSpecial, limit-len(out))
	if !ok {
		return nil, false
	}
	// A space prefix goes before the first run of text and before every run
	// that follows a special token: each is segmented as a text of its own.
	afterSpecial := true
	var bpe *bpeSession
	if t.bpe != nil {
		bpe = &bpeSession{t: t, m: t.bpe}
	}
	for _, f := range frags {
		switch {
		case f.id >= 0:
			out = append(out, f.id)
			afterSpecial = true
		case v.Model == "gpt2":
			out = t.encodeBPE(f.text, bpe, out, limit)
		case v.Model == "bert":
			out = t.encodeWPM(f.text, out, limit)
		default:
			out = t.encodeSPM(f.text, v.AddSpacePrefix && afterSpecial, out, limit)
			afterSpecial = false
		}
		if len(out) > limit {
			return nil, false
		}
	}
	if addSpecial && v.AddEOS && v.EOS >= 0 {
		out = append(out, v.EOS)
	}
	return out, len(out) <= limit
}

// fragment is a run of text still to segment (id < 0) or a special token.
type fragment struct {
	text string
	id   int32
}

// partition splits the special tokens out of text. Like llama.cpp, it takes
// the special tokens longest first and splits every text fragment at each
// occurrence of the one at hand, left to right, before going on to the next.
// It gives up (ok false) once there are more than limit special tokens: each
// is a token of its own.
func (t *Tokenizer) partition(text string, parseSpecial bool, limit int) (frags []fragment, ok bool) {
	if text == "" {
		return nil, true
	}
	specials := 0
	frags = []fragment{{text: text, id: -1}}
	var next []fragment
	for _, id := range t.specials {
		if !parseSpecial && t.vocab.typeOf(id) != TypeUserDefined {
			continue
		}
		special := t.vocab.Tokens[id]
		next = next[:0]
		for _, f := range frags {
			if f.id >= 0 || !strings.Contains(f.text, special) {
				next = append(next, f)
				continue
			}
			rest := f.text
			for {
				i := strings.Index(rest, special)
				if i < 0 {
					break
				}
				if i > 0 {
					next = append(next, fragment{text: rest[:i], id: -1})
				}
				next = append(next, fragment{id: id})
				rest = rest[i+len(special):]
				if specials++; specials > limit {
					return nil, false
				}
			}
			if rest != "" {
				next = append(next, fragment{text: rest, id: -1})
			}
		}
		frags, next = next, frags
	}
	return frags, true
}

// Decode is the text of ids: their pieces concatenated, byte tokens giving
// their bytes (so multi-byte characters split over byte tokens come out whole).
// When the vocabulary adds a space prefix, the first token that stands for any
// text loses one leading space, so that Decode(Encode(s, ...)) == s: llama.cpp
// strips it from the first token; we also let a leading BOS (or any token
// without text) pass, as llama2.c and SentencePiece do.
func (t *Tokenizer) Decode(ids []int32) string {
	var b strings.Builder
	strip := t.stripSpace
	for _, id := range ids {
		p := t.Piece(id)
		if strip && len(p) > 0 {
			p = trimOneSpace(p)
			strip = false
		}
		b.Write(p)
	}
	return b.String()
}

func trimOneSpace(p []byte) []byte {
	if len(p) > 0 && p[0] == ' ' {
		return p[1:]
	}
	return p
}
