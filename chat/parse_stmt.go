package chat

import "slices"

// parseBody parses nodes up to a block tag whose name is in ends (or the end of
// the template when ends is empty). It returns that name, with the parser at the
// token after it.
func (p *parser) parseBody(ends ...string) ([]node, string, error) {
	if err := p.enter(); err != nil {
		return nil, "", err
	}
	defer p.leave()
	var body []node
	for {
		t := p.cur()
		switch t.kind {
		case tkEOF:
			if len(ends) > 0 {
				return nil, "", p.errf("unexpected end of template, expected one of %v", ends)
			}
			return body, "", nil
		case tkText:
			p.next()
			body = append(body, &textNode{t.val})
		case tkVarBegin:
			p.next()
			e, err := p.parseTuple(true)
			if err != nil {
				return nil, "", err
			}
			if p.cur().kind != tkVarEnd {
				return nil, "", p.errf("expected end of print statement, got %s", p.cur())
			}
			p.next()
			body = append(body, &outputNode{e})
		case tkBlockBegin:
			p.next()
			name := p.cur()
			if name.kind != tkName {
				return nil, "", p.errf("expected a statement name, got %s", name)
			}
			if slices.Contains(ends, name.val) {
				p.next()
				return body, name.val, nil
			}
			n, err := p.parseStatement()
			if err != nil {
				return nil, "", err
			}
			body = append(body, n)
		default:
			return nil, "", p.errf("unexpected %s", t)
		}
	}
}

func (p *parser) parseStatement() (node, error) {
	t := p.next()
	switch t.val {
	case "if":
		return p.parseIf()
	case "for":
		return p.parseFor(t.line)
	case "set":
		return p.parseSet(t.line)
	case "macro":
		return p.parseMacro()
	case "call":
		return p.parseCallBlock()
	case "filter":
		var filts []*filterExpr
		for {
			f, err := p.parseFilter(nil)
			if err != nil {
				return nil, err
			}
			filts = append(filts, f)
			if !p.isOp("|") {
				break
			}
			p.next()
		}
		if err := p.expectBlockEnd(); err != nil {
			return nil, err
		}
		body, _, err := p.parseBody("endfilter")
		if err != nil {
			return nil, err
		}
		return &filterBlockNode{filts, body}, p.expectBlockEnd()
	case "break", "continue":
		if err := p.expectBlockEnd(); err != nil {
			return nil, err
		}
		if t.val == "break" {
			return &breakNode{}, nil
		}
		return &continueNode{}, nil
	case "generation":
		if err := p.expectBlockEnd(); err != nil {
			return nil, err
		}
		body, _, err := p.parseBody("endgeneration")
		if err != nil {
			return nil, err
		}
		return &blockNode{body}, p.expectBlockEnd()
	}
	p.pos--
	return nil, p.errf("encountered unknown tag '%s'", t.val)
}

func (p *parser) parseIf() (node, error) {
	n := &ifNode{}
	for {
		cond, err := p.parseTuple(false)
		if err != nil {
			return nil, err
		}
		if err := p.expectBlockEnd(); err != nil {
			return nil, err
		}
		body, end, err := p.parseBody("elif", "else", "endif")
		if err != nil {
			return nil, err
		}
		n.conds = append(n.conds, cond)
		n.bodies = append(n.bodies, body)
		switch end {
		case "elif":
			continue
		case "else":
			if err := p.expectBlockEnd(); err != nil {
				return nil, err
			}
			n.orelse, _, err = p.parseBody("endif")
			if err != nil {
				return nil, err
			}
		}
		return n, p.expectBlockEnd()
	}
}

func (p *parser) parseFor(line int) (node, error) {
	n := &forNode{line: line}
	for {
		name, err := p.expectName()
		if err != nil {
			return nil, err
		}
		n.targets = append(n.targets, name)
		if !p.isOp(",") {
			break
		}
		p.next()
	}
	if !p.isName("in") {
		return nil, p.errf("expected 'in', got %s", p.cur())
	}
	p.next()
	var err error
	if n.iter, err = p.parseTupleNoCond(); err != nil {
		return nil, err
	}
	if p.isName("if") {
		p.next()
		if n.filter, err = p.parseExpr(true); err != nil {
			return nil, err
		}
	}
	if p.isName("recursive") {
		return nil, p.errf("recursive loops are not supported")
	}
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	body, end, err := p.parseBody("else", "endfor")
	if err != nil {
		return nil, err
	}
	n.body = body
	if end == "else" {
		if err := p.expectBlockEnd(); err != nil {
			return nil, err
		}
		if n.orelse, _, err = p.parseBody("endfor"); err != nil {
			return nil, err
		}
	}
	return n, p.expectBlockEnd()
}

func (p *parser) parseSet(line int) (node, error) {
	n := &setNode{line: line}
	name, err := p.expectName()
	if err != nil {
		return nil, err
	}
	switch {
	case p.isOp("."):
		p.next()
		n.ns = name
		if n.attr, err = p.expectName(); err != nil {
			return nil, err
		}
	default:
		n.names = []string{name}
		for p.isOp(",") {
			p.next()
			name, err := p.expectName()
			if err != nil {
				return nil, err
			}
			n.names = append(n.names, name)
		}
	}
	if p.isOp("=") {
		p.next()
		if n.value, err = p.parseTuple(true); err != nil {
			return nil, err
		}
		return n, p.expectBlockEnd()
	}
	if n.attr != "" || len(n.names) != 1 {
		return nil, p.errf("expected '='")
	}
	for p.isOp("|") {
		p.next()
		f, err := p.parseFilter(nil)
		if err != nil {
			return nil, err
		}
		n.filts = append(n.filts, f)
	}
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	if n.body, _, err = p.parseBody("endset"); err != nil {
		return nil, err
	}
	return n, p.expectBlockEnd()
}

func (p *parser) parseParams() ([]param, error) {
	var params []param
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	err := p.parseList(")", func() error {
		name, err := p.expectName()
		if err != nil {
			return err
		}
		prm := param{name: name}
		if p.isOp("=") {
			p.next()
			if prm.def, err = p.parseExpr(true); err != nil {
				return err
			}
		}
		params = append(params, prm)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return params, nil
}

func (p *parser) parseMacro() (node, error) {
	name, err := p.expectName()
	if err != nil {
		return nil, err
	}
	params, err := p.parseParams()
	if err != nil {
		return nil, err
	}
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	body, _, err := p.parseBody("endmacro")
	if err != nil {
		return nil, err
	}
	if p.cur().kind == tkName { // {% endmacro name %}
		p.next()
	}
	return &macroNode{name, &macroDef{name: name, params: params, body: body}}, p.expectBlockEnd()
}

func (p *parser) parseCallBlock() (node, error) {
	n := &callBlockNode{}
	var err error
	if p.isOp("(") {
		if n.params, err = p.parseParams(); err != nil {
			return nil, err
		}
	}
	e, err := p.parseExpr(true)
	if err != nil {
		return nil, err
	}
	c, ok := e.(*callExpr)
	if !ok {
		return nil, p.errf("expected a call")
	}
	n.call = c
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	if n.body, _, err = p.parseBody("endcall"); err != nil {
		return nil, err
	}
	return n, p.expectBlockEnd()
}
