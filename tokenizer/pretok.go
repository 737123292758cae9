package tokenizer

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A BPE vocabulary's pre-tokenizer cuts text into words before merging; which
// one is named by tokenizer.ggml.pre. Each is a sequence of stages, as in the
// models' tokenizer.json files: a stage finds its matches in each piece left by
// the stage before, and both the matches and the text between them become
// pieces of their own. The patterns below are those of the models' reference
// tokenizers, written as regular expressions in the comments; the ones that
// need look-ahead ("\s+(?!\S)"), which Go's regexp lacks, and which carry most
// of the text, are hand-written scanners; the rest are Go regexps.
//
// Character classes follow Unicode: \p{L} letters, \p{N} numbers, \p{P}
// punctuation; \s is the White_Space property (wsClass). A byte that is not
// valid UTF-8 counts as a character of its own that is none of these.

// stage reports the matches of one pattern in s, left to right, as byte
// ranges, until match returns false.
type stage func(s string, match func(start, end int) bool)

type preTokenizer struct {
	name         string
	stages       []stage
	ignoreMerges bool // a word that is a token is not merged (Llama 3)
}

// split calls word for each word of text, in order, until word returns
// false; it reports whether it saw every word.
func (p *preTokenizer) split(text string, word func(string) bool) bool {
	return p.run(text, 0, word)
}

func (p *preTokenizer) run(s string, i int, word func(string) bool) bool {
	if s == "" {
		return true
	}
	if i == len(p.stages) {
		return word(s)
	}
	last, more := 0, true
	p.stages[i](s, func(a, b int) bool {
		if a > last {
			more = p.run(s[last:a], i+1, word)
		}
		more = more && p.run(s[a:b], i+1, word)
		last = b
		return more
	})
	if more && last < len(s) {
		more = p.run(s[last:], i+1, word)
	}
	return more
}

// wsClass is \s: Unicode's White_Space characters.
const wsClass = `[\t\n\v\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]`

func isSpace(r rune) bool {
	switch {
	case r <= 0x20:
		return r == ' ' || (r >= '\t' && r <= '\r')
	case r < 0x85:
		return false
	}
	return r == 0x85 || r == 0xA0 || r == 0x1680 || (r >= 0x2000 && r <= 0x200A) ||
		r == 0x2028 || r == 0x2029 || r == 0x202F || r == 0x205F || r == 0x3000
}

// Character classes of the scanners.
const (
	clsOther  uint8 = iota // none of the others: [^\s\p{L}\p{N}]
	clsLetter              // \p{L}
	clsNumber              // \p{N}
	clsSpace               // \s
)

var asciiClass = func() (c [128]uint8) {
	for r := range rune(128) {
		switch {
		case isSpace(r):
			c[r] = clsSpace
		case unicode.IsLetter(r):
			c[r] = clsLetter
		case unicode.IsNumber(r):
			c[r] = clsNumber
		}
	}
	return c
}()

// classAt is the class and byte length of the character at s[i].
func classAt(s string, i int) (uint8, int) {
	if b := s[i]; b < utf8.RuneSelf {
		return asciiClass[b], 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	switch {
	case r == utf8.RuneError && n == 1:
		return clsOther, 1
	case unicode.IsLetter(r):
		return clsLetter, n
	case unicode.IsNumber(r):
		return clsNumber, n
	case isSpace(r):
		return clsSpace, n
	}
	return clsOther, n
}

// runOf is the end of the run of characters of class c starting at i.
func runOf(s string, i int, c uint8) int {
	for i < len(s) {
		ci, n := classAt(s, i)
		if ci != c {
			break
		}
		i += n
	}
	return i
}

// spaceRun is the end of the whitespace run starting at i and the offset of
// its last character.
func spaceRun(s string, i int) (end, last int) {
	last = i
	for i < len(s) {
		c, n := classAt(s, i)
		if c != clsSpace {
			break
		}
		last = i
		i += n
	}
	return i, last
}

// contraction is the end of 's 't 're 've 'm 'll 'd at s[i] (s[i] == '\”),
// or 0; foldCase accepts them in any case.
func contraction(s string, i int, foldCase bool) int {
	lower := func(j int) byte {
		if j >= len(s) {
			return 0
		}
		if b := s[j]; foldCase && b >= 'A' && b <= 'Z' {
			return b + 'a' - 'A'
		}
		return s[j]
	}
	switch lower(i + 1) {
	case 's', 't', 'm', 'd':
		return i + 2
	case 'r', 'v':
		if lower(i+2) == 'e' {
			return i + 3
		}
	case 'l':
		if lower(i+2) == 'l' {
			return i + 3
		}
	}
	return 0
}

// gpt2Stage is GPT-2's pattern:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func gpt2Stage(s string, match func(int, int) bool) {
	for p := 0; p < len(s); {
		if s[p] == '\'' {
			if e := contraction(s, p, false); e > 0 {
				if !match(p, e) {
					return
				}
				p = e
				continue
			}
		}
		c, n := classAt(s, p)
		if s[p] == ' ' && p+1 < len(s) {
			if c2, _ := classAt(s, p+1); c2 != clsSpace {
				e := runOf(s, p+1, c2)
				if !match(p, e) {
					return
				}
				p = e
				continue
			}
		}
		if c != clsSpace {
			e := runOf(s, p+n, c)
			if !match(p, e) {
				return
			}
			p = e
			continue
		}
		// \s+(?!\S) leaves the last space of a run to the word after it.
		e, last := spaceRun(s, p)
		if e < len(s) && last > p {
			e = last
		}
		if !match(p, e) {
			return
		}
		p = e
	}
}

// llama3Stage is Llama 3's pattern with \p{N}{1,maxDigits}:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//	 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// (Qwen2 has \p{N} alone, maxDigits 1.)
func llama3Stage(maxDigits int) stage {
	return func(s string, match func(int, int) bool) {
		for p := 0; p < len(s); {
			e := llama3Match(s, p, maxDigits)
			if !match(p, e) {
				return
			}
			p = e
		}
	}
}

func llama3Match(s string, p, maxDigits int) int {
	if s[p] == '\'' {
		if e := contraction(s, p, true); e > 0 {
			return e
		}
	}
	c, n := classAt(s, p)
	switch c {
	case clsLetter:
		return runOf(s, p+n, clsLetter)
	case clsNumber:
		e := p + n
		for k := 1; k < maxDigits && e < len(s); k++ {
			c2, n2 := classAt(s, e)
			if c2 != clsNumber {
				break
			}
			e += n2
		}
		return e
	}
	var c2 uint8 = clsSpace
	if p+n < len(s) {
		c2, _ = classAt(s, p+n)
	}
	if c2 == clsLetter && s[p] != '\r' && s[p] != '\n' {
		return runOf(s, p+n, clsLetter)
	}
	if c == clsOther || (s[p] == ' ' && c2 == clsOther) {
		e := runOf(s, p+n, clsOther)
		for e < len(s) && (s[e] == '\r' || s[e] == '\n') {
			e++
		}
		return e
	}
	e, last := spaceRun(s, p)
	if nl := strings.LastIndexAny(s[p:e], "\r\n"); nl >= 0 {
		return p + nl + 1 // \s*[\r\n]+
	}
	if e < len(s) && last > p {
		return last // \s+(?!\S)
	}
	return e
}

// regexpStage is a stage from a Go regexp; `\s` in the pattern stands for
// wsClass. It looks for one match at a time (no pattern here looks behind
// its match or at the text's start), so that a long text costs no list of
// all its matches and stops when match says so.
func regexpStage(pattern string) stage {
	re := regexp.MustCompile(strings.ReplaceAll(pattern, `\s`, wsClass))
	return func(s string, match func(int, int) bool) {
		for p := 0; p < len(s); {
			m := re.FindStringIndex(s[p:])
			switch {
			case m == nil:
				return
			case m[1] == m[0]: // an empty match: look again a character on
				_, n := utf8.DecodeRuneInString(s[p+m[0]:])
				p += m[0] + max(n, 1)
				continue
			}
			if !match(p+m[0], p+m[1]) {
				return
			}
			p += m[1]
		}
	}
}

// cjkClass is the Chinese, Hangul and other ideograph ranges of DeepSeek's
// pre-tokenizers: [一-龥ࠀ-一가-퟿].
const cjkClass = `[\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]`

// deepseekLetters is the cased-letter class of DeepSeek LLM's pre-tokenizer.
const deepseekLetters = `A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF}` +
	`\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}` +
	`\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}` +
	`\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}` +
	`\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}` +
	`\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}` +
	`\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}` +
	`\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}` +
	`\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}` +
	`\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}` +
	`\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}`

// preTokenizers builds the pre-tokenizer of each supported tokenizer.ggml.pre
// value; "" (no key) is llama.cpp's fallback, "default".
var preTokenizers = map[string]func() *preTokenizer{
	"default": defaultPre, "": defaultPre,
	// Llama 3: words that are tokens skip the merges.
	"llama-bpe": llama3Pre(3, true), "llama3": llama3Pre(3, true), "llama-v3": llama3Pre(3, true),
	"dbrx": llama3Pre(3, false), "smaug-bpe": llama3Pre(3, false),
	"qwen2": llama3Pre(1, false), "stablelm2": llama3Pre(1, false), "deepseek-r1-qwen": llama3Pre(1, false),
	// o200k (gpt-oss, GPT-4o): see pretok_gpt4o.go.
	"gpt-4o": func() *preTokenizer { return &preTokenizer{stages: []stage{gpt4oStage}} },
	"gpt-2":  gpt2Pre, "mpt": gpt2Pre, "olmo": gpt2Pre, "phi-2": gpt2Pre, "jais": gpt2Pre,
	// Digits one by one, then GPT-2's pattern.
	"starcoder": digitsPre, "refact": digitsPre, "command-r": digitsPre, "smollm": digitsPre,
	"codeshell": digitsPre, "exaone": digitsPre, "minerva-7b": digitsPre,
	"falcon": func() *preTokenizer {
		return &preTokenizer{stages: []stage{regexpStage(`[\p{P}\$\+<=>\^~\|\x60]+`), gpt2Stage, regexpStage(`[0-9][0-9][0-9]`)}}
	},
	"deepseek-coder": func() *preTokenizer {
		return &preTokenizer{stages: []stage{
			regexpStage(`[\r\n]`), regexpStage(`\s?\p{L}+`), regexpStage(`\s?\p{P}+`),
			regexpStage(cjkClass + `+`), regexpStage(`\p{N}`),
		}}
	},
	"deepseek-llm": func() *preTokenizer {
		return &preTokenizer{stages: []stage{
			regexpStage(`[\r\n]`), regexpStage(`\s?[` + deepseekLetters + `]+`),
			regexpStage(`\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+`),
			regexpStage(`\s+$`), regexpStage(cjkClass + `+`), regexpStage(`\p{N}+`),
		}}
	},
	// Qwen 3.5: Qwen 2's pattern (llama.cpp's also counts combining marks,
	// \p{M}, as letters; ordinary text splits the same).
	"qwen35": llama3Pre(1, false),
}

func defaultPre() *preTokenizer {
	return &preTokenizer{stages: []stage{
		regexpStage(`[\p{P}\$\+<=>\^~\|]+`), gpt2Stage, regexpStage(`\p{N}+`), regexpStage(`[0-9][0-9][0-9]`),
	}}
}

func llama3Pre(maxDigits int, ignoreMerges bool) func() *preTokenizer {
	return func() *preTokenizer {
		return &preTokenizer{stages: []stage{llama3Stage(maxDigits)}, ignoreMerges: ignoreMerges}
	}
}

func gpt2Pre() *preTokenizer { return &preTokenizer{stages: []stage{gpt2Stage}} }

func digitsPre() *preTokenizer {
	return &preTokenizer{stages: []stage{regexpStage(`\p{N}`), gpt2Stage}}
}

// newPreTokenizer is the pre-tokenizer named by tokenizer.ggml.pre.
func newPreTokenizer(name string) (*preTokenizer, error) {
	mk, ok := preTokenizers[name]
	if !ok {
		names := make([]string, 0, len(preTokenizers))
		for n := range preTokenizers {
			if n != "" {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		return nil, fmt.Errorf("tokenizer: unsupported BPE pre-tokenizer %q (tokenizer.ggml.pre; supported: %s)", name, strings.Join(names, ", "))
	}
	p := mk()
	p.name = name
	return p, nil
}
