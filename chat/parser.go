package chat

import "fmt"

type parser struct {
	toks  []token
	pos   int
	depth int // nesting of the expression or block being parsed
}

// enter counts one level of nesting; leave undoes it. A template nested past
// maxParseDepth is an error, not a stack overflow.
func (p *parser) enter() error {
	if p.depth++; p.depth > maxParseDepth {
		return p.errf("nested more than %d levels deep", maxParseDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func parse(src string) ([]node, error) {
	toks, err := tokenize(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	body, end, err := p.parseBody()
	if err != nil {
		return nil, err
	}
	if end != "" {
		return nil, p.errf("unexpected '%s'", end)
	}
	return body, nil
}

func (p *parser) cur() token  { return p.toks[p.pos] }
func (p *parser) peek() token { return p.toks[min(p.pos+1, len(p.toks)-1)] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if p.pos < len(p.toks)-1 {
		p.pos++
	}
	return t
}

func (p *parser) errf(format string, args ...any) error {
	return fmt.Errorf("template syntax error, line %d: %s", p.cur().line, fmt.Sprintf(format, args...))
}

func (p *parser) isOp(op string) bool {
	t := p.cur()
	return t.kind == tkOp && t.val == op
}

func (p *parser) isName(name string) bool {
	t := p.cur()
	return t.kind == tkName && t.val == name
}

func (p *parser) expectOp(op string) error {
	if !p.isOp(op) {
		return p.errf("expected '%s', got %s", op, p.cur())
	}
	p.next()
	return nil
}

func (p *parser) expectName() (string, error) {
	if p.cur().kind != tkName {
		return "", p.errf("expected a name, got %s", p.cur())
	}
	return p.next().val, nil
}

// expectDottedName is a name, or names joined by dots ("a.b"), as filters and
// tests are named.
func (p *parser) expectDottedName() (string, error) {
	name, err := p.expectName()
	if err != nil {
		return "", err
	}
	for p.isOp(".") {
		p.next()
		n, err := p.expectName()
		if err != nil {
			return "", err
		}
		name += "." + n
	}
	return name, nil
}

// parseList parses comma-separated items, a trailing comma allowed, through the
// closing op; item parses one.
func (p *parser) parseList(closing string, item func() error) error {
	for n := 0; !p.isOp(closing); n++ {
		if n > 0 {
			if err := p.expectOp(","); err != nil {
				return err
			}
			if p.isOp(closing) {
				break
			}
		}
		if err := item(); err != nil {
			return err
		}
	}
	p.next()
	return nil
}

func (p *parser) expectBlockEnd() error {
	if p.cur().kind != tkBlockEnd {
		return p.errf("expected end of statement block, got %s", p.cur())
	}
	p.next()
	return nil
}
