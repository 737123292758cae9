package tokenizer

import "unicode/utf8"

// StreamDecoder turns tokens into text one at a time, as they are generated,
// never returning part of a UTF-8 character. Its outputs concatenated equal
// Decode of all the tokens it was given.
type StreamDecoder struct {
	t       *Tokenizer
	pending []byte // bytes of a character not yet complete
	strip   bool   // the first text still has to lose its prefix space
}

// NewStreamDecoder starts decoding a new sequence.
func (t *Tokenizer) NewStreamDecoder() *StreamDecoder {
	return &StreamDecoder{t: t, strip: t.stripSpace}
}

// Add is the text that became complete with id. Bytes that begin a UTF-8
// character are held until it completes; bytes that cannot be part of a valid
// character are passed on as they are.
func (d *StreamDecoder) Add(id int32) string {
	p := d.t.Piece(id)
	if d.strip && len(p) > 0 {
		p = trimOneSpace(p)
		d.strip = false
	}
	d.pending = append(d.pending, p...)
	n := 0
	for n < len(d.pending) && utf8.FullRune(d.pending[n:]) {
		_, w := utf8.DecodeRune(d.pending[n:])
		n += w
	}
	out := string(d.pending[:n])
	d.pending = append(d.pending[:0], d.pending[n:]...)
	return out
}

// Flush returns the bytes still held (an incomplete character at the end of
// the sequence) and empties the decoder's buffer.
func (d *StreamDecoder) Flush() string {
	out := string(d.pending)
	d.pending = d.pending[:0]
	return out
}
