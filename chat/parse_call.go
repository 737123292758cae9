package chat

func (p *parser) parseArgs() (args []expr, kwkeys []string, kwvals []expr, err error) {
	if err := p.expectOp("("); err != nil {
		return nil, nil, nil, err
	}
	for !p.isOp(")") {
		if len(args)+len(kwkeys) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, nil, nil, err
			}
			if p.isOp(")") {
				break
			}
		}
		if p.cur().kind == tkName && p.peek().kind == tkOp && p.peek().val == "=" {
			k := p.next().val
			p.next()
			v, err := p.parseExpr(true)
			if err != nil {
				return nil, nil, nil, err
			}
			kwkeys = append(kwkeys, k)
			kwvals = append(kwvals, v)
			continue
		}
		if p.isOp("*") || p.isOp("**") {
			return nil, nil, nil, p.errf("*args and **kwargs are not supported")
		}
		if len(kwkeys) > 0 {
			return nil, nil, nil, p.errf("positional argument after keyword argument")
		}
		e, err := p.parseExpr(true)
		if err != nil {
			return nil, nil, nil, err
		}
		args = append(args, e)
	}
	p.next()
	return args, kwkeys, kwvals, nil
}

func (p *parser) parseCall(fn expr) (*callExpr, error) {
	line := p.cur().line
	args, kk, kv, err := p.parseArgs()
	if err != nil {
		return nil, err
	}
	return &callExpr{fn: fn, args: args, kwkeys: kk, kwvals: kv, line: line}, nil
}

func (p *parser) parseFilterExpr(e expr) (expr, error) {
	for {
		switch {
		case p.isOp("|"):
			p.next()
			f, err := p.parseFilter(e)
			if err != nil {
				return nil, err
			}
			e = f
		case p.isName("is"):
			p.next()
			t, err := p.parseTest(e)
			if err != nil {
				return nil, err
			}
			e = t
		case p.isOp("("):
			c, err := p.parseCall(e)
			if err != nil {
				return nil, err
			}
			e = c
		default:
			return e, nil
		}
	}
}

func (p *parser) parseFilter(x expr) (*filterExpr, error) {
	line := p.cur().line
	name, err := p.expectName()
	if err != nil {
		return nil, err
	}
	for p.isOp(".") {
		p.next()
		n, err := p.expectName()
		if err != nil {
			return nil, err
		}
		name += "." + n
	}
	f := &filterExpr{x: x, name: name, line: line}
	if p.isOp("(") {
		if f.args, f.kwkeys, f.kwvals, err = p.parseArgs(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (p *parser) parseTest(x expr) (expr, error) {
	line := p.cur().line
	negated := false
	if p.isName("not") {
		p.next()
		negated = true
	}
	name, err := p.expectName()
	if err != nil {
		return nil, err
	}
	for p.isOp(".") {
		p.next()
		n, err := p.expectName()
		if err != nil {
			return nil, err
		}
		name += "." + n
	}
	t := &testExpr{x: x, name: name, line: line}
	cur := p.cur()
	switch {
	case p.isOp("("):
		if t.args, t.kwkeys, t.kwvals, err = p.parseArgs(); err != nil {
			return nil, err
		}
	case (cur.kind == tkName || cur.kind == tkString || cur.kind == tkInt || cur.kind == tkFloat || p.isOp("[") || p.isOp("{")) &&
		!p.isName("else") && !p.isName("or") && !p.isName("and"):
		if p.isName("is") {
			return nil, p.errf("you cannot chain multiple tests with is")
		}
		a, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		if a, err = p.parsePostfix(a); err != nil {
			return nil, err
		}
		t.args = []expr{a}
	}
	if negated {
		return &notExpr{t}, nil
	}
	return t, nil
}
