package chat

// parseTuple parses an expression, or several separated by commas as a tuple.
func (p *parser) parseTuple(withCond bool) (expr, error) {
	first, err := p.parseExpr(withCond)
	if err != nil {
		return nil, err
	}
	if !p.isOp(",") {
		return first, nil
	}
	items := []expr{first}
	for p.isOp(",") {
		p.next()
		if !p.startsExpr() {
			break
		}
		e, err := p.parseExpr(withCond)
		if err != nil {
			return nil, err
		}
		items = append(items, e)
	}
	return &tupleExpr{items}, nil
}

func (p *parser) parseTupleNoCond() (expr, error) { return p.parseTuple(false) }

func (p *parser) startsExpr() bool {
	t := p.cur()
	switch t.kind {
	case tkName, tkString, tkInt, tkFloat:
		return true
	case tkOp:
		return t.val == "(" || t.val == "[" || t.val == "{" || t.val == "-" || t.val == "+"
	}
	return false
}

func (p *parser) parseExpr(withCond bool) (expr, error) {
	if !withCond {
		return p.parseOr()
	}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	for p.isName("if") {
		p.next()
		test, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		var other expr
		if p.isName("else") {
			p.next()
			if other, err = p.parseExpr(true); err != nil {
				return nil, err
			}
		}
		e = &condExpr{test: test, a: e, b: other}
	}
	return e, nil
}

// parseLeftAssoc parses operands joined by left-associative operators: while
// isOp holds, the operator token and the next operand join the expression so far.
func (p *parser) parseLeftAssoc(operand func() (expr, error), isOp func() bool, join func(op token, l, r expr) expr) (expr, error) {
	l, err := operand()
	if err != nil {
		return nil, err
	}
	// Each operator nests the tree one level deeper (evaluation recurses).
	saved := p.depth
	defer func() { p.depth = saved }()
	for isOp() {
		if err := p.enter(); err != nil {
			return nil, err
		}
		t := p.next()
		r, err := operand()
		if err != nil {
			return nil, err
		}
		l = join(t, l, r)
	}
	return l, nil
}

func newBinExpr(op token, l, r expr) expr { return &binExpr{op: op.val, l: l, r: r, line: op.line} }

func (p *parser) parseOr() (expr, error) {
	return p.parseLeftAssoc(p.parseAnd, func() bool { return p.isName("or") },
		func(_ token, l, r expr) expr { return &orExpr{l, r} })
}

func (p *parser) parseAnd() (expr, error) {
	return p.parseLeftAssoc(p.parseNot, func() bool { return p.isName("and") },
		func(_ token, l, r expr) expr { return &andExpr{l, r} })
}

func (p *parser) parseNot() (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if p.isName("not") {
		p.next()
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &notExpr{x}, nil
	}
	return p.parseCompare()
}

func (p *parser) parseCompare() (expr, error) {
	line := p.cur().line
	first, err := p.parseMath1()
	if err != nil {
		return nil, err
	}
	c := &compareExpr{first: first, line: line}
	for {
		var op string
		t := p.cur()
		switch {
		case t.kind == tkOp && (t.val == "==" || t.val == "!=" || t.val == "<" || t.val == "<=" || t.val == ">" || t.val == ">="):
			op = t.val
			p.next()
		case p.isName("in"):
			op = "in"
			p.next()
		case p.isName("not") && p.peek().kind == tkName && p.peek().val == "in":
			op = "not in"
			p.next()
			p.next()
		}
		if op == "" {
			break
		}
		r, err := p.parseMath1()
		if err != nil {
			return nil, err
		}
		c.ops = append(c.ops, op)
		c.rest = append(c.rest, r)
	}
	if len(c.ops) == 0 {
		return first, nil
	}
	return c, nil
}

func (p *parser) parseMath1() (expr, error) {
	return p.parseLeftAssoc(p.parseConcat, func() bool { return p.isOp("+") || p.isOp("-") }, newBinExpr)
}

func (p *parser) parseConcat() (expr, error) {
	first, err := p.parseMath2()
	if err != nil {
		return nil, err
	}
	if !p.isOp("~") {
		return first, nil
	}
	parts := []expr{first}
	for p.isOp("~") {
		p.next()
		e, err := p.parseMath2()
		if err != nil {
			return nil, err
		}
		parts = append(parts, e)
	}
	return &concatExpr{parts}, nil
}

func (p *parser) parseMath2() (expr, error) {
	return p.parseLeftAssoc(p.parsePow, func() bool { return p.isOp("*") || p.isOp("/") || p.isOp("//") || p.isOp("%") }, newBinExpr)
}

func (p *parser) parsePow() (expr, error) {
	return p.parseLeftAssoc(func() (expr, error) { return p.parseUnary(true) }, func() bool { return p.isOp("**") }, newBinExpr)
}

func (p *parser) parseUnary(withFilter bool) (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	var e expr
	var err error
	if p.isOp("-") || p.isOp("+") {
		t := p.next()
		x, err := p.parseUnary(false)
		if err != nil {
			return nil, err
		}
		e = &unaryExpr{op: t.val, x: x, line: t.line}
	} else if e, err = p.parsePrimary(); err != nil {
		return nil, err
	}
	if e, err = p.parsePostfix(e); err != nil {
		return nil, err
	}
	if withFilter {
		return p.parseFilterExpr(e)
	}
	return e, nil
}

func (p *parser) parsePrimary() (expr, error) {
	t := p.cur()
	switch t.kind {
	case tkName:
		p.next()
		switch t.val {
		case "true", "True":
			return &constExpr{true}, nil
		case "false", "False":
			return &constExpr{false}, nil
		case "none", "None":
			return &constExpr{nil}, nil
		}
		return &nameExpr{t.val, t.line}, nil
	case tkString:
		s := ""
		for p.cur().kind == tkString {
			s += p.next().val
		}
		return &constExpr{s}, nil
	case tkInt:
		p.next()
		return &constExpr{t.ival}, nil
	case tkFloat:
		p.next()
		return &constExpr{t.fval}, nil
	case tkOp:
		switch t.val {
		case "(":
			p.next()
			if p.isOp(")") {
				p.next()
				return &tupleExpr{}, nil
			}
			first, err := p.parseExpr(true)
			if err != nil {
				return nil, err
			}
			if p.isOp(")") {
				p.next()
				return first, nil
			}
			items := []expr{first}
			for p.isOp(",") {
				p.next()
				if p.isOp(")") {
					break
				}
				e, err := p.parseExpr(true)
				if err != nil {
					return nil, err
				}
				items = append(items, e)
			}
			return &tupleExpr{items}, p.expectOp(")")
		case "[":
			p.next()
			l := &listExpr{}
			err := p.parseList("]", func() error {
				e, err := p.parseExpr(true)
				if err != nil {
					return err
				}
				l.items = append(l.items, e)
				return nil
			})
			if err != nil {
				return nil, err
			}
			return l, nil
		case "{":
			p.next()
			d := &dictExpr{}
			err := p.parseList("}", func() error {
				k, err := p.parseExpr(true)
				if err != nil {
					return err
				}
				if err := p.expectOp(":"); err != nil {
					return err
				}
				v, err := p.parseExpr(true)
				if err != nil {
					return err
				}
				d.keys = append(d.keys, k)
				d.vals = append(d.vals, v)
				return nil
			})
			if err != nil {
				return nil, err
			}
			return d, nil
		}
	}
	return nil, p.errf("unexpected %s", t)
}

func (p *parser) parsePostfix(e expr) (expr, error) {
	for {
		t := p.cur()
		switch {
		case p.isOp("."):
			p.next()
			a := p.next()
			switch a.kind {
			case tkName:
				e = &attrExpr{obj: e, name: a.val, line: a.line}
			case tkInt:
				e = &itemExpr{obj: e, key: &constExpr{a.ival}, line: a.line}
			default:
				return nil, p.errf("expected a name after '.'")
			}
		case p.isOp("["):
			p.next()
			k, err := p.parseSubscript()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp("]"); err != nil {
				return nil, err
			}
			e = &itemExpr{obj: e, key: k, line: t.line}
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

func (p *parser) parseSubscript() (expr, error) {
	var parts [3]expr
	i := 0
	isSlice := false
	for {
		if p.isOp(":") {
			isSlice = true
			i++
			if i > 2 {
				return nil, p.errf("bad slice")
			}
			p.next()
			continue
		}
		if p.isOp("]") {
			break
		}
		e, err := p.parseExpr(true)
		if err != nil {
			return nil, err
		}
		parts[i] = e
		if !isSlice && !p.isOp(":") {
			if p.isOp(",") {
				items := []expr{e}
				for p.isOp(",") {
					p.next()
					e, err := p.parseExpr(true)
					if err != nil {
						return nil, err
					}
					items = append(items, e)
				}
				return &tupleExpr{items}, nil
			}
			return e, nil
		}
	}
	if !isSlice {
		return nil, p.errf("expected a subscript")
	}
	return &sliceExpr{parts[0], parts[1], parts[2]}, nil
}
