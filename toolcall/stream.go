package toolcall

import (
	"strings"
)

// Kind is what an Event carries.
type Kind int

const (
	Content   Kind = iota // Text is answer text
	Reasoning             // Text is reasoning text
	CallStart             // a call begins: Index and Name
	CallArgs              // Text is a piece of call Index's arguments
)

// Event is one piece of a parsed answer.
type Event struct {
	Kind  Kind
	Text  string
	Index int
	Name  string
}

// Options configure a Parser.
type Options struct {
	Family Family
	// Reasoning separates <think> blocks (and Harmony's analysis channel)
	// from the content; off, they stay in it.
	Reasoning bool
	// InReasoning is for a prompt that ended with <think>: the answer begins
	// inside the block.
	InReasoning bool
	// NoCalls leaves calls in the content (tool_choice none).
	NoCalls bool
}

type state int

const (
	stStart state = iota // before anything but white space
	stThink              // inside <think>
	stText               // content, watching for a call's opener
	stTag                // inside <tool_call>, waiting for </tool_call>
	stRest               // the rest of the answer is calls: parsed at the end
	stHText              // Harmony: between messages
	stHHead              // Harmony: a message's header
	stHBody              // Harmony: a message's body
)

// Parser reads an answer as it streams.
type Parser struct {
	opts    Options
	st      state
	buf     string
	calls   int
	rest    string // which kind of stRest: "json", "mistral", "python"
	thought bool   // a <think> block was read
	hKind   Kind   // Harmony body: Content, Reasoning or CallStart
	hName   string
	begun   bool // the reasoning's first byte was read
}

// NewParser starts parsing an answer.
func NewParser(opts Options) *Parser {
	p := &Parser{opts: opts}
	if opts.InReasoning && opts.Reasoning {
		p.st = stThink
	}
	return p
}

// Add takes the next piece of the answer and returns what it completes.
func (p *Parser) Add(text string) []Event {
	p.buf += text
	return p.run(false)
}

// Finish ends the answer, returning what was held back.
func (p *Parser) Finish() []Event {
	return p.run(true)
}

const (
	thinkOpen  = "<think>"
	thinkClose = "</think>"
	tagOpen    = "<tool_call>"
	tagClose   = "</tool_call>"
	mistralTag = "[TOOL_CALLS]"
	pythonTag  = "<|python_tag|>"
)

// heldSuffix is the length of the longest end of s that begins one of marks.
func heldSuffix(s string, marks ...string) int {
	hold := 0
	for _, m := range marks {
		for n := min(len(m)-1, len(s)); n > hold; n-- {
			if strings.HasSuffix(s, m[:n]) {
				hold = n
				break
			}
		}
	}
	return hold
}

// earliest finds the first of marks in s.
func earliest(s string, marks ...string) (int, string) {
	at, which := -1, ""
	for _, m := range marks {
		if i := strings.Index(s, m); i >= 0 && (at < 0 || i < at) {
			at, which = i, m
		}
	}
	return at, which
}

func (p *Parser) openers() []string {
	if p.opts.NoCalls {
		return nil
	}
	switch p.opts.Family {
	case Hermes:
		return []string{tagOpen}
	case Mistral:
		return []string{mistralTag}
	case Llama3:
		return []string{pythonTag}
	}
	return nil
}

func (p *Parser) emitCalls(out []Event, calls []Call) []Event {
	for _, c := range calls {
		out = append(out, Event{Kind: CallStart, Index: p.calls, Name: c.Name},
			Event{Kind: CallArgs, Index: p.calls, Text: c.Arguments})
		p.calls++
	}
	return out
}

func text(out []Event, k Kind, s string) []Event {
	if s == "" {
		return out
	}
	return append(out, Event{Kind: k, Text: s})
}

func (p *Parser) run(final bool) []Event {
	var out []Event
	for {
		switch p.st {
		case stStart:
			t := strings.TrimLeft(p.buf, " \t\r\n")
			if t == "" {
				if final {
					p.buf = ""
				}
				return out
			}
			if p.opts.Reasoning && !p.thought && p.opts.Family != Harmony {
				if strings.HasPrefix(t, thinkOpen) {
					p.buf, p.st = t[len(thinkOpen):], stThink
					continue
				}
				if strings.HasPrefix(thinkOpen, t) && !final {
					return out // perhaps <think> still
				}
			}
			switch {
			case p.opts.Family == Harmony:
				p.st = stHText
			case !p.opts.NoCalls && (p.opts.Family == Llama3 || p.opts.Family == JSON) && (t[0] == '{' || t[0] == '['):
				p.st, p.rest = stRest, "json"
			default:
				p.st = stText
			}
			p.buf = t
		case stThink:
			if !p.begun { // the newline after <think> is not reasoning
				p.buf = strings.TrimLeft(p.buf, "\n")
				if p.buf == "" && !final {
					return out
				}
				p.begun = true
			}
			if i := strings.Index(p.buf, thinkClose); i >= 0 {
				out = text(out, Reasoning, strings.TrimRight(p.buf[:i], "\n"))
				p.buf, p.st, p.thought = p.buf[i+len(thinkClose):], stStart, true
				continue
			}
			if final {
				out = text(out, Reasoning, p.buf)
				p.buf = ""
				return out
			}
			// hold a possible </think> and the newlines before it
			n := len(p.buf) - heldSuffix(p.buf, thinkClose)
			n = len(strings.TrimRight(p.buf[:n], "\n"))
			out = text(out, Reasoning, p.buf[:n])
			p.buf = p.buf[n:]
			return out
		case stText:
			ops := p.openers()
			if i, m := earliest(p.buf, ops...); i >= 0 {
				out = text(out, Content, p.buf[:i])
				p.buf = p.buf[i+len(m):]
				switch m {
				case tagOpen:
					p.st = stTag
				case mistralTag:
					p.st, p.rest = stRest, "mistral"
				case pythonTag:
					p.st, p.rest = stRest, "python"
				}
				continue
			}
			n := len(p.buf)
			if !final {
				n -= heldSuffix(p.buf, ops...)
			}
			out = text(out, Content, p.buf[:n])
			p.buf = p.buf[n:]
			return out
		case stTag:
			i := strings.Index(p.buf, tagClose)
			if i < 0 && !final {
				return out
			}
			body, after := p.buf, ""
			if i >= 0 {
				body, after = p.buf[:i], p.buf[i+len(tagClose):]
			}
			if calls, ok := callValues(body); ok {
				out = p.emitCalls(out, calls)
			} else {
				raw := tagOpen + body
				if i >= 0 {
					raw += tagClose
				}
				out = text(out, Content, raw)
			}
			p.buf, p.st = after, stText
			if i < 0 {
				return out
			}
		case stRest:
			if !final {
				return out
			}
			var calls []Call
			ok := true
			switch p.rest {
			case "json":
				calls, ok = callValues(p.buf)
			case "mistral":
				calls, ok = mistralCalls(p.buf)
			case "python":
				calls = pythonTagCalls(p.buf)
			}
			if ok {
				out = p.emitCalls(out, calls)
			} else {
				prefix := map[string]string{"mistral": mistralTag, "python": pythonTag}[p.rest]
				out = text(out, Content, prefix+p.buf)
			}
			p.buf = ""
			return out
		case stHText:
			if i, _ := earliest(p.buf, "<|start|>", "<|channel|>"); i >= 0 {
				out = text(out, Content, p.buf[:i])
				p.buf, p.st = p.buf[i:], stHHead
				continue
			}
			n := len(p.buf)
			if !final {
				n -= heldSuffix(p.buf, "<|start|>", "<|channel|>")
			}
			out = text(out, Content, p.buf[:n])
			p.buf = p.buf[n:]
			return out
		case stHHead:
			i := strings.Index(p.buf, "<|message|>")
			if i < 0 {
				if final {
					p.buf = "" // a header alone says nothing
				}
				return out
			}
			head := p.buf[:i]
			p.buf, p.st = p.buf[i+len("<|message|>"):], stHBody
			p.hKind, p.hName = Content, ""
			if j := strings.Index(head, "to=functions."); j >= 0 && !p.opts.NoCalls {
				name := head[j+len("to=functions."):]
				if k := strings.IndexAny(name, " \t\n<"); k >= 0 {
					name = name[:k]
				}
				p.hKind, p.hName = CallStart, name
			} else if strings.Contains(head, "<|channel|>analysis") && p.opts.Reasoning {
				p.hKind = Reasoning
			}
		case stHBody:
			ends := []string{"<|end|>", "<|call|>", "<|return|>", "<|start|>"}
			i, m := earliest(p.buf, ends...)
			if p.hKind == CallStart {
				if i < 0 && !final {
					return out
				}
				body := p.buf
				if i >= 0 {
					body = p.buf[:i]
				}
				if calls, ok := callValues(`{"name":"x","arguments":` + body + `}`); ok && p.hName != "" {
					out = p.emitCalls(out, []Call{{Name: p.hName, Arguments: calls[0].Arguments}})
				} else {
					out = text(out, Content, body)
				}
			} else {
				n := len(p.buf)
				if i >= 0 {
					n = i
				} else if !final {
					n -= heldSuffix(p.buf, ends...)
				}
				out = text(out, p.hKind, p.buf[:n])
				if i < 0 {
					p.buf = p.buf[n:]
					return out
				}
			}
			if i < 0 {
				p.buf = ""
				return out
			}
			if m == "<|start|>" {
				p.buf = p.buf[i:]
			} else {
				p.buf = p.buf[i+len(m):]
			}
			p.st = stHText
		}
	}
}
