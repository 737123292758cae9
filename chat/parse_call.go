package chat

func (p *parser) parseArgs() (args []expr, kwkeys []string, kwvals []expr, err error) {
	if err := p.expectOp("("); err != nil {
		return nil, nil, nil, err
	}
	err = p.parseList(")", func() error {
		if p.cur().kind == tkName && p.peek().kind == tkOp && p.peek().val == "=" {
			k := p.next().val
			p.next()
			v, err := p.parseExpr(true)
			if err != nil {
				return err
			}
			kwkeys = append(kwkeys, k)
			kwvals = append(kwvals, v)
			return nil
		}
		if p.isOp("*") || p.isOp("**") {
			return p.errf("*args and **kwargs are not supported")
		}
		if len(kwkeys) > 0 {
			return p.errf("positional argument after keyword argument")
		}
		e, err := p.parseExpr(true)
		if err != nil {
			return err
		}
		args = append(args, e)
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
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
	name, err := p.expectDottedName()
	if err != nil {
		return nil, err
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
	name, err := p.expectDottedName()
	if err != nil {
		return nil, err
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
