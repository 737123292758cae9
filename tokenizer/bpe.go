package tokenizer

import (
	"fmt"
	"strings"
)

// Byte-level BPE (tokenizer.ggml.model "gpt2"), as GPT-2 defined it and
// llama.cpp's llm_tokenizer_bpe runs it:
//
//  1. The pre-tokenizer (pretok.go) cuts the text into words.
//  2. Each byte of a word stands for one printable character (byteChars); a
//     vocabulary token is a string of those characters.
//  3. The word starts as one symbol per byte; the adjacent pair that is a
//     merge of lowest rank (ties: the leftmost) is joined, again and again,
//     until no adjacent pair is a merge. Each symbol is then its token.
//
// With ignoreMerges (Llama 3), a word that is itself a token is that token
// without merging. We work on the raw bytes throughout: a symbol is an id in
// a table of every string the merges can produce (the tokens, plus "virtual"
// entries for merge parts and results that are not tokens), and a merge is
// looked up by the pair of ids, so no text is hashed while merging.

// byteChars maps each byte to its character in GPT-2's byte-level alphabet:
// the printable Latin-1 bytes stand for themselves, the other 68 are mapped in
// order to U+0100 and up.
var byteChars = func() (m [256]rune) {
	next := rune(256)
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			m[b] = rune(b)
		} else {
			m[b] = next
			next++
		}
	}
	return m
}()

// charBytes is the inverse of byteChars: character → byte, -1 outside it.
var charBytes = func() map[rune]byte {
	m := make(map[rune]byte, 256)
	for b, r := range byteChars {
		m[r] = byte(b)
	}
	return m
}()

// byteDecode turns a token's byte-level text into the bytes it stands for. ok
// is false when a character is outside the byte-level alphabet (the text is
// then returned unchanged).
func byteDecode(s string) (out []byte, ok bool) {
	out = make([]byte, 0, len(s))
	for _, r := range s {
		b, in := charBytes[r]
		if !in {
			return []byte(s), false
		}
		out = append(out, b)
	}
	return out, true
}

// byteEncode is the byte-level text of raw bytes.
func byteEncode(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		b.WriteRune(byteChars[raw[i]])
	}
	return b.String()
}

// bpeModel is the merge table of a byte-level BPE vocabulary.
type bpeModel struct {
	merges     map[uint64]uint64 // left<<32 | right → rank<<32 | result
	byteSym    [256]int32        // each byte's one-character symbol
	virtual    []string          // raw bytes of symbol n+i that is no token
	rawIDs     map[string]int32  // raw bytes of a NORMAL token → id (ignoreMerges only)
	ignoreMrg  bool
	vocabSize  int32
	symbolByte map[string]int32 // byte-level text → symbol id, while building
}

// symbol is the id of a byte-level string, making a virtual one if needed.
func (m *bpeModel) symbol(t *Tokenizer, s string) int32 {
	if id, ok := t.ids[s]; ok {
		return id
	}
	if id, ok := m.symbolByte[s]; ok {
		return id
	}
	raw, _ := byteDecode(s)
	id := m.vocabSize + int32(len(m.virtual))
	m.virtual = append(m.virtual, string(raw))
	m.symbolByte[s] = id
	return id
}

func newBPEModel(t *Tokenizer, ignoreMerges bool) (*bpeModel, error) {
	v := t.vocab
	m := &bpeModel{
		merges:     make(map[uint64]uint64, len(v.Merges)),
		ignoreMrg:  ignoreMerges,
		vocabSize:  int32(len(v.Tokens)),
		symbolByte: map[string]int32{},
	}
	for b := range 256 {
		m.byteSym[b] = m.symbol(t, string(byteChars[b]))
	}
	for rank, line := range v.Merges {
		// The two parts are separated by the first space that is not the
		// line's first character (a part can never contain a space: spaces
		// are "Ġ" in byte-level text).
		i := strings.IndexByte(line[min(1, len(line)):], ' ') + min(1, len(line))
		if i <= 0 || i == len(line)-1 {
			return nil, fmt.Errorf("tokenizer: merge %d %q is not of the form \"A B\"", rank, line)
		}
		left, right := line[:i], line[i+1:]
		l, r, res := m.symbol(t, left), m.symbol(t, right), m.symbol(t, left+right)
		key := uint64(uint32(l))<<32 | uint64(uint32(r))
		if _, dup := m.merges[key]; !dup { // a repeated merge keeps its first rank
			m.merges[key] = uint64(rank)<<32 | uint64(uint32(res))
		}
	}
	m.symbolByte = nil
	if ignoreMerges {
		m.rawIDs = make(map[string]int32, len(v.Tokens))
		for i, s := range v.Tokens {
			if v.typeOf(int32(i)) != TypeNormal {
				continue
			}
			if raw, ok := byteDecode(s); ok {
				m.rawIDs[string(raw)] = int32(i)
			}
		}
	}
	return m, nil
}

// bpeSymbol is a run of a word's bytes in the list of live symbols; n == 0
// once merged into its left neighbour.
type bpeSymbol struct {
	id         int32
	start, n   int32
	prev, next int32
}

// bpeSession is the working state of one Encode call.
type bpeSession struct {
	t       *Tokenizer
	m       *bpeModel
	symbols []bpeSymbol
	queue   bigramQueue
}

// encodeWord appends the tokens of one pre-tokenized word (raw bytes).
func (s *bpeSession) encodeWord(word string, out []int32) []int32 {
	m := s.m
	if len(word) == 1 {
		return s.emit(m.byteSym[word[0]], word, out)
	}
	if m.ignoreMrg {
		if id, ok := m.rawIDs[word]; ok {
			return append(out, id)
		}
	}
	s.symbols = s.symbols[:0]
	s.queue = s.queue[:0]
	for i := 0; i < len(word); i++ {
		next := int32(i + 1)
		if i == len(word)-1 {
			next = -1
		}
		s.symbols = append(s.symbols, bpeSymbol{id: m.byteSym[word[i]], start: int32(i), n: 1, prev: int32(i - 1), next: next})
	}
	for i := int32(1); i < int32(len(s.symbols)); i++ {
		s.tryAdd(i-1, i)
	}
	for len(s.queue) > 0 {
		b := s.queue.pop()
		left, right := &s.symbols[b.left], &s.symbols[b.right]
		if left.n == 0 || right.n == 0 || left.n+right.n != b.size {
			continue // stale
		}
		key := uint64(uint32(left.id))<<32 | uint64(uint32(right.id))
		left.id = int32(uint32(m.merges[key]))
		left.n += right.n
		right.n = 0
		left.next = right.next
		if right.next >= 0 {
			s.symbols[right.next].prev = b.left
		}
		s.tryAdd(left.prev, b.left)
		s.tryAdd(b.left, left.next)
	}
	for i := int32(0); i != -1; i = s.symbols[i].next {
		sym := s.symbols[i]
		out = s.emit(sym.id, word[sym.start:sym.start+sym.n], out)
	}
	return out
}

// emit appends symbol id, or, when it is no token, the token of each of its
// bytes (UNK for a byte without one).
func (s *bpeSession) emit(id int32, raw string, out []int32) []int32 {
	if id < s.m.vocabSize {
		return append(out, id)
	}
	for i := 0; i < len(raw); i++ {
		if b := s.m.byteSym[raw[i]]; b < s.m.vocabSize {
			out = append(out, b)
		} else if s.t.vocab.UNK >= 0 {
			out = append(out, s.t.vocab.UNK)
		}
	}
	return out
}

// tryAdd queues the merge of symbols left and right if there is one. The
// queue orders by score, highest first: the score is minus the rank.
func (s *bpeSession) tryAdd(left, right int32) {
	if left < 0 || right < 0 {
		return
	}
	l, r := s.symbols[left], s.symbols[right]
	v, ok := s.m.merges[uint64(uint32(l.id))<<32|uint64(uint32(r.id))]
	if !ok {
		return
	}
	s.queue.push(spmBigram{score: -float32(v >> 32), left: left, right: right, size: l.n + r.n})
}

// encodeBPE appends the tokens of a run of text without special tokens,
// stopping once out holds more than limit.
func (t *Tokenizer) encodeBPE(text string, s *bpeSession, out []int32, limit int) []int32 {
	t.pre.split(text, func(word string) bool {
		out = s.encodeWord(word, out)
		return len(out) <= limit
	})
	return out
}

// bpePiece is the text of a byte-level token: NORMAL tokens are byte-decoded;
// user-defined ones are their text as it is.
func bpePiece(s string, typ TokenType) []byte {
	if typ == TypeNormal {
		raw, _ := byteDecode(s)
		return raw
	}
	return []byte(s)
}
