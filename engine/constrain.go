package engine

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sync"

	"github.com/conveyor-llm/conveyor/grammar"
	"github.com/conveyor-llm/conveyor/tokenizer"
)

// ErrGrammarDeadEnd is returned when no token can continue the grammar (the
// vocabulary cannot spell what the grammar asks for next).
var ErrGrammarDeadEnd = errors.New("engine: no token of the vocabulary can continue the grammar")

// grammarVocab is a tokenizer's token bytes in tries, built once per model:
// pieces as they are, and (for vocabularies whose decoder strips the first
// token's leading space) the pieces as the first generated token shows them.
type grammarVocab struct {
	once  sync.Once
	all   *grammar.Vocab
	first *grammar.Vocab // nil when the first token's text is its piece
	eog   []int32        // the end-of-generation tokens
}

// vocabFor builds the tries on first use.
func vocabFor(gv *grammarVocab, tok *tokenizer.Tokenizer) *grammarVocab {
	gv.once.Do(func() {
		n := tok.VocabSize()
		pieces := make([][]byte, n)
		var first [][]byte
		for id := range n {
			p := tok.Piece(int32(id))
			if tok.IsEOG(int32(id)) {
				p = nil
				gv.eog = append(gv.eog, int32(id))
			}
			pieces[id] = p
			if len(p) > 0 && p[0] == ' ' && first == nil && tok.Decode([]int32{int32(id)}) != string(p) {
				first = make([][]byte, n)
			}
		}
		gv.all = grammar.NewVocab(pieces)
		if first != nil {
			for id, p := range pieces {
				if len(p) > 0 && p[0] == ' ' {
					p = p[1:]
				}
				first[id] = p
			}
			gv.first = grammar.NewVocab(first)
		}
	})
	return gv
}

// grammars caches compiled grammars by their text (requests repeat them).
var grammars struct {
	sync.Mutex
	m map[string]*grammar.Grammar
}

// compileGrammar parses req's grammar (GBNF, or a JSON Schema converted to
// GBNF); nil when the request has none.
func (req Request) compileGrammar() (*grammar.Grammar, error) {
	if req.Grammar != "" && req.JSONSchema != "" {
		return nil, errors.New("engine: a request takes a Grammar or a JSONSchema, not both")
	}
	src := req.Grammar
	if req.JSONSchema != "" {
		var err error
		if src, err = grammar.SchemaToGBNF([]byte(req.JSONSchema)); err != nil {
			return nil, err
		}
	}
	if src == "" {
		return nil, nil
	}
	grammars.Lock()
	g, ok := grammars.m[src]
	grammars.Unlock()
	if ok {
		return g, nil
	}
	g, err := grammar.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	grammars.Lock()
	if grammars.m == nil || len(grammars.m) >= 64 {
		grammars.m = map[string]*grammar.Grammar{}
	}
	grammars.m[src] = g
	grammars.Unlock()
	return g, nil
}

// constraint keeps a sequence's text inside its grammar.
type constraint struct {
	g      *grammar.Grammar
	st     grammar.State
	tok    *tokenizer.Tokenizer
	vocab  *grammarVocab
	all    *grammar.Masker
	first  *grammar.Masker // for the first token, when its leading space is stripped
	atHead bool            // no token accepted yet
	noEOG  bool
	buf    []float32
	ids    []int32  // the allowed tokens' ids, for the second draw
	set    []uint64 // the allowed tokens, after mask
	fit    []uint64 // scratch for keepFitting
}

func newConstraint(g *grammar.Grammar, gv *grammarVocab, tok *tokenizer.Tokenizer, ignoreEOS bool) *constraint {
	gv = vocabFor(gv, tok)
	c := &constraint{g: g, st: g.Start(), tok: tok, vocab: gv, all: grammar.NewMasker(g, gv.all), atHead: true, noEOG: ignoreEOS}
	if gv.first != nil {
		c.first = grammar.NewMasker(g, gv.first)
	}
	return c
}

// text is the bytes token id adds to the output here.
func (c *constraint) text(id int32) []byte {
	if c.tok.IsEOG(id) {
		return nil
	}
	p := c.tok.Piece(id)
	if c.atHead && c.first != nil && len(p) > 0 && p[0] == ' ' {
		p = p[1:]
	}
	return p
}

// allowed reports whether id may come next.
func (c *constraint) allowed(id int32) bool {
	if id < 0 || int(id) >= c.tok.VocabSize() {
		return false
	}
	if c.tok.IsEOG(id) {
		return !c.noEOG && c.st.Complete()
	}
	p := c.text(id)
	if len(p) == 0 {
		return false
	}
	_, ok := c.g.Accept(c.st, p)
	return ok
}

// sample draws a token the grammar allows: first from the logits as they
// are (kept when allowed, the common case, which costs one check), else from
// the logits with every token the grammar rejects masked. Both draws together
// pick each allowed token with its probability among the allowed ones. The
// second draw looks only at the allowed tokens (the same draw as over the
// masked logits: the same order, ties broken by id, one random number), unless
// logit biases or penalties, which name token ids, apply.
//
// left is how many tokens the answer may still have, this one included (0:
// no limit). A token is taken only if the grammar can still be completed in
// the tokens after it, one character a token, so that a limited answer ends
// complete (a JSON text closed) rather than cut off.
func (c *constraint) sample(smp *sampler, logits []float32, left int) (int32, error) {
	c.buf = append(c.buf[:0], logits...)
	if id := smp.sample(c.buf); c.allowed(id) && c.fits(id, left) {
		return id, nil
	}
	n := c.mask(logits)
	if n == 0 {
		return 0, ErrGrammarDeadEnd
	}
	// Tokens that do not fit are rare until the end nears: draw, and drop a
	// token that does not fit; after a few, sort them all out at once.
	for try := 0; left > 0 && try < 3 && n > 8; try++ {
		id := c.draw(smp, logits)
		if c.fits(id, left) {
			return id, nil
		}
		logits[id] = float32(math.Inf(-1))
		c.set[id>>6] &^= 1 << (id & 63)
		n--
	}
	c.keepFitting(logits, left)
	return c.draw(smp, logits), nil
}

// draw samples from logits, where the tokens not in c.set are masked.
func (c *constraint) draw(smp *sampler, logits []float32) int32 {
	if len(smp.opts.LogitBias) > 0 || smp.opts.penalized() {
		c.buf = append(c.buf[:0], logits...) // the sampler changes what it reads
		return smp.sample(c.buf)
	}
	c.buf, c.ids = c.buf[:0], c.ids[:0]
	for i, w := range c.set {
		for ; w != 0; w &= w - 1 {
			id := i*64 + bits.TrailingZeros64(w)
			c.buf = append(c.buf, logits[id])
			c.ids = append(c.ids, int32(id))
		}
	}
	return c.ids[smp.sample(c.buf)]
}

// fits reports whether, after the allowed token id, the grammar can still
// be completed within the tokens left.
func (c *constraint) fits(id int32, left int) bool {
	if left <= 0 || c.tok.IsEOG(id) {
		return true
	}
	st, ok := c.g.Accept(c.st, c.text(id))
	return ok && c.g.Remaining(st) <= left-1
}

// keepFitting drops from c.set (and logits) the tokens that do not fit;
// when none does, it keeps them all (the answer will be cut off: the
// vocabulary cannot spell the shortest completion a character a token).
func (c *constraint) keepFitting(logits []float32, left int) {
	if left <= 0 {
		return
	}
	m := c.all
	if c.atHead && c.first != nil {
		m = c.first
	}
	fit, n := m.FittingBits(c.st, left-1)
	c.fit = append(c.fit[:0], c.set...)
	for i := range c.fit {
		if i < len(fit) {
			c.fit[i] &= fit[i]
		} else {
			c.fit[i] = 0
		}
	}
	if c.st.Complete() { // end of generation, when allowed, fits
		for _, id := range c.vocab.eog {
			if int(id) < len(logits) && c.set[id>>6]&(1<<(id&63)) != 0 {
				c.fit[id>>6] |= 1 << (id & 63)
				n++
			}
		}
	}
	if n == 0 {
		return
	}
	inf := float32(math.Inf(-1))
	for i, w := range c.set {
		for drop := w &^ c.fit[i]; drop != 0; drop &= drop - 1 {
			logits[i*64+bits.TrailingZeros64(drop)] = inf
		}
	}
	copy(c.set, c.fit)
}

// mask sets the logits of the tokens the grammar rejects to -inf, leaves the
// allowed ones in c.set, and returns how many tokens are left.
func (c *constraint) mask(logits []float32) int {
	m := c.all
	if c.atHead && c.first != nil {
		m = c.first
	}
	allowed, n := m.AllowedBits(c.st)
	words := (len(logits) + 63) / 64
	if cap(c.set) < words {
		c.set = make([]uint64, words)
	}
	c.set = c.set[:words]
	copy(c.set, allowed)
	clear(c.set[min(len(allowed), words):])
	if !c.noEOG && c.st.Complete() {
		for _, id := range c.vocab.eog {
			if int(id) < len(logits) && c.set[id>>6]&(1<<(id&63)) == 0 {
				c.set[id>>6] |= 1 << (id & 63)
				n++
			}
		}
	}
	if r := len(logits) % 64; r != 0 {
		c.set[words-1] &= 1<<r - 1
	}
	inf := float32(math.Inf(-1))
	for i, w := range c.set {
		if w == ^uint64(0) {
			continue
		}
		base := i * 64
		for rej := ^w; rej != 0; rej &= rej - 1 {
			if id := base + bits.TrailingZeros64(rej); id < len(logits) {
				logits[id] = inf
			}
		}
	}
	return n
}

// accept moves the grammar past id (which allowed said may come).
func (c *constraint) accept(id int32) {
	if c.tok.IsEOG(id) {
		return
	}
	if st, ok := c.g.Accept(c.st, c.text(id)); ok {
		c.st = st
	}
	c.atHead = false
}

// done reports whether the text is complete and nothing more can follow.
func (c *constraint) done() bool { return c.st.Done() }
