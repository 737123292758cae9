package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// The SentencePiece (SPM) segmentation, as llama.cpp's llm_tokenizer_spm does
// it: the text starts as one symbol per UTF-8 character; the adjacent pair
// whose concatenation is a vocabulary token with the highest score is merged
// (ties: the leftmost pair), again and again until no pair is a token. Each
// final symbol is its token, or, when it is not one, its bytes as byte tokens.
//
// One deliberate difference: llama.cpp sizes a character by its first byte
// alone, so in text that is not valid UTF-8 a stray lead byte swallows the
// bytes after it, even part of the "▁" that stands for a space, and decoding
// no longer gives the text back. Here each byte that does not begin a valid
// character is a symbol of its own. Valid UTF-8 splits identically.

// spmSymbol is a run text[start:start+n] in a doubly linked list of the
// symbols still alive. A symbol merged into its left neighbour has n == 0.
type spmSymbol struct {
	start, n   int32
	prev, next int32
}

// spmBigram is a candidate merge of two adjacent symbols. size is the byte
// length of the pair when it was queued: if either symbol has changed since,
// the sum no longer matches and the candidate is stale.
type spmBigram struct {
	score       float32
	left, right int32
	size        int32
}

// before reports whether a is merged before b: higher score first, then the
// leftmost pair.
func (a spmBigram) before(b spmBigram) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.left < b.left
}

// bigramQueue is a binary max-heap of candidates ordered by before.
type bigramQueue []spmBigram

func (q *bigramQueue) push(b spmBigram) {
	*q = append(*q, b)
	h := *q
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].before(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *bigramQueue) pop() spmBigram {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h[l].before(h[m]) {
			m = l
		}
		if r < len(h) && h[r].before(h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}

// spmSession holds the working state of one segmentation.
type spmSession struct {
	t       *Tokenizer
	text    string
	symbols []spmSymbol
	queue   bigramQueue
}

// spmChunk is the length from which encodeSPM looks for a place to cut the
// text: segmenting pieces of tens of bytes keeps the queue small and in
// cache, about ten times faster than one queue over a whole book.
const spmChunk = 64

// encodeSPM appends the tokens of text to out, with a space before it when
// spacePrefix, stopping once out holds more than limit. Spaces are escaped
// ("▁") a window at a time, so that a long text is never copied whole.
//
// The escaped text is cut only between two characters that are not adjacent
// in any token. No symbol can ever span such a cut, and merges on one side
// never touch candidates on the other, so each side goes through the same
// merges in the same order as in one pass over the whole text: the ids are
// identical.
func (t *Tokenizer) encodeSPM(text string, spacePrefix bool, out []int32, limit int) []int32 {
	var s spmSession
	s.t = t
	pending := "" // escaped text not yet segmented
	if spacePrefix {
		pending = "▁"
	}
	from := spmChunk // where to look for a cut in pending
	for len(out) <= limit {
		if len(pending) < 2*spmChunk && len(text) > 0 {
			pending, text = escapeMore(pending, text, spmWindow)
			continue
		}
		if pending == "" {
			break
		}
		n, found := t.safeCut(pending, from)
		if !found && len(text) > 0 {
			// No cut yet: look on from here in a window as long again (the
			// copies stay linear in the text).
			from = len(pending)
			pending, text = escapeMore(pending, text, max(spmWindow, len(pending)))
			continue
		}
		out = s.encode(pending[:n], out)
		pending, from = pending[n:], spmChunk
	}
	return out
}

// spmWindow is how many bytes of text encodeSPM escapes at a time.
const spmWindow = 4096

// escapeMore appends about n more bytes of text (whole characters) to
// pending with each space as "▁" (U+2581), returning both what it holds
// and the text still to escape.
func escapeMore(pending, text string, n int) (string, string) {
	n = min(n, len(text))
	for n < len(text) && !utf8.RuneStart(text[n]) {
		n++
	}
	window := text[:n]
	var b strings.Builder
	b.Grow(len(pending) + len(window) + 2*strings.Count(window, " "))
	b.WriteString(pending)
	for {
		i := strings.IndexByte(window, ' ')
		if i < 0 {
			b.WriteString(window)
			break
		}
		b.WriteString(window[:i])
		b.WriteString("▁")
		window = window[i+1:]
	}
	return b.String(), text[n:]
}

// safeCut is the first offset in text, at least from, where it can be cut
// (see encodeSPM), or len(text) with found false if there is none.
func (t *Tokenizer) safeCut(text string, from int) (cut int, found bool) {
	q := from
	for q < len(text) && !utf8.RuneStart(text[q]) {
		q++ // a character never spans a byte that can begin one
	}
	if q >= len(text) {
		return len(text), false
	}
	_, n := utf8.DecodeLastRuneInString(text[:q])
	prev := text[q-n : q]
	for q < len(text) {
		_, n := utf8.DecodeRuneInString(text[q:])
		next := text[q : q+n]
		if _, inside := t.innerPairs[charPair{prev, next}]; !inside {
			return q, true
		}
		prev = next
		q += n
	}
	return q, false
}

// charPair is two adjacent characters.
type charPair struct{ left, right string }

// innerPairs is the set of character pairs adjacent inside some token.
func innerPairs(tokens []string) map[charPair]struct{} {
	pairs := make(map[charPair]struct{})
	for _, tok := range tokens {
		prev := ""
		for off := 0; off < len(tok); {
			_, n := utf8.DecodeRuneInString(tok[off:])
			c := tok[off : off+n]
			if prev != "" {
				pairs[charPair{prev, c}] = struct{}{}
			}
			prev = c
			off += n
		}
	}
	return pairs
}

// encode appends the tokens of one piece of text.
func (s *spmSession) encode(text string, out []int32) []int32 {
	t := s.t
	s.text = text
	s.symbols = s.symbols[:0]
	s.queue = s.queue[:0]
	for off := 0; off < len(text); {
		_, n := utf8.DecodeRuneInString(text[off:])
		i := int32(len(s.symbols))
		next := i + 1
		if off+n == len(text) {
			next = -1
		}
		s.symbols = append(s.symbols, spmSymbol{start: int32(off), n: int32(n), prev: i - 1, next: next})
		off += n
	}
	for i := int32(1); i < int32(len(s.symbols)); i++ {
		s.tryAdd(i-1, i)
	}

	for len(s.queue) > 0 {
		b := s.queue.pop()
		left, right := &s.symbols[b.left], &s.symbols[b.right]
		if left.n == 0 || right.n == 0 || left.n+right.n != b.size {
			continue // stale: one side was merged elsewhere meanwhile
		}
		left.n += right.n
		right.n = 0
		left.next = right.next
		if right.next >= 0 {
			s.symbols[right.next].prev = b.left
		}
		s.tryAdd(left.prev, b.left)
		s.tryAdd(b.left, left.next)
	}

	// Every merged symbol is a token by construction, so only unmerged
	// characters can miss the vocabulary (llama.cpp's resegment step through
	// its rev_merge map therefore never splits anything here).
	for i := int32(0); i != -1; i = s.symbols[i].next {
		sym := s.symbols[i]
		piece := text[sym.start : sym.start+sym.n]
		if id, ok := t.ids[piece]; ok {
			out = append(out, id)
			continue
		}
		out = t.byteFallback(piece, out)
	}
	return out
}

// byteFallback appends the byte tokens of a piece that is not a token, or,
// when the vocabulary lacks a token for one of its bytes, a single UNK (none
// if there is no UNK either).
func (t *Tokenizer) byteFallback(piece string, out []int32) []int32 {
	for j := 0; j < len(piece); j++ {
		if t.byteTokens[piece[j]] < 0 {
			if t.vocab.UNK >= 0 {
				out = append(out, t.vocab.UNK)
			}
			return out
		}
	}
	for j := 0; j < len(piece); j++ {
		out = append(out, t.byteTokens[piece[j]])
	}
	return out
}

// tryAdd queues the merge of symbols left and right if their concatenation is
// a token.
func (s *spmSession) tryAdd(left, right int32) {
	if left < 0 || right < 0 {
		return
	}
	l, r := s.symbols[left], s.symbols[right]
	size := l.n + r.n
	id, ok := s.t.ids[s.text[l.start:l.start+size]]
	if !ok {
		return
	}
	s.queue.push(spmBigram{score: s.t.vocab.scoreOf(id), left: left, right: right, size: size})
}
