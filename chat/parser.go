package chat

import (
	"fmt"
	"slices"
)

// Statement nodes.
type (
	node any

	textNode   struct{ text string }
	outputNode struct{ expr expr }
	ifNode     struct {
		conds  []expr
		bodies [][]node
		orelse []node
	}
	forNode struct {
		targets []string
		iter    expr
		filter  expr
		body    []node
		orelse  []node
		line    int
	}
	setNode struct {
		names []string // one name, or several to unpack
		ns    string   // ns.attr assignment when attr != ""
		attr  string
		value expr
		body  []node // block set
		filts []*filterExpr
		line  int
	}
	macroNode struct {
		name string
		m    *macroDef
	}
	callBlockNode struct {
		call   *callExpr
		params []param
		body   []node
	}
	filterBlockNode struct {
		filts []*filterExpr
		body  []node
	}
	breakNode    struct{}
	continueNode struct{}
	blockNode    struct{ body []node } // {% generation %} and the like: rendered as is
)

type param struct {
	name string
	def  expr
}

type macroDef struct {
	name   string
	params []param
	body   []node
}

// Expression nodes.
type (
	expr any

	constExpr struct{ v any }
	nameExpr  struct {
		name string
		line int
	}
	listExpr  struct{ items []expr }
	tupleExpr struct{ items []expr }
	dictExpr  struct{ keys, vals []expr }
	attrExpr  struct {
		obj  expr
		name string
		line int
	}
	itemExpr struct {
		obj, key expr
		line     int
	}
	sliceExpr struct{ start, stop, step expr }
	callExpr  struct {
		fn     expr
		args   []expr
		kwkeys []string
		kwvals []expr
		line   int
	}
	filterExpr struct {
		x      expr // nil in filter blocks and set blocks
		name   string
		args   []expr
		kwkeys []string
		kwvals []expr
		line   int
	}
	testExpr struct {
		x      expr
		name   string
		args   []expr
		kwkeys []string
		kwvals []expr
		line   int
	}
	unaryExpr struct {
		op   string
		x    expr
		line int
	}
	binExpr struct {
		op   string
		l, r expr
		line int
	}
	concatExpr  struct{ parts []expr }
	compareExpr struct {
		first expr
		ops   []string
		rest  []expr
		line  int
	}
	andExpr  struct{ l, r expr }
	orExpr   struct{ l, r expr }
	notExpr  struct{ x expr }
	condExpr struct{ test, a, b expr }
)

type parser struct {
	toks []token
	pos  int
}

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

func (p *parser) expectBlockEnd() error {
	if p.cur().kind != tkBlockEnd {
		return p.errf("expected end of statement block, got %s", p.cur())
	}
	p.next()
	return nil
}

// parseBody parses nodes up to a block tag whose name is in ends (or the end of
// the template when ends is empty). It returns that name, with the parser at the
// token after it.
func (p *parser) parseBody(ends ...string) ([]node, string, error) {
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
	for !p.isOp(")") {
		if len(params) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
			if p.isOp(")") {
				break
			}
		}
		name, err := p.expectName()
		if err != nil {
			return nil, err
		}
		prm := param{name: name}
		if p.isOp("=") {
			p.next()
			if prm.def, err = p.parseExpr(true); err != nil {
				return nil, err
			}
		}
		params = append(params, prm)
	}
	p.next()
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

func (p *parser) parseOr() (expr, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isName("or") {
		p.next()
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = &orExpr{l, r}
	}
	return l, nil
}

func (p *parser) parseAnd() (expr, error) {
	l, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for p.isName("and") {
		p.next()
		r, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		l = &andExpr{l, r}
	}
	return l, nil
}

func (p *parser) parseNot() (expr, error) {
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
	l, err := p.parseConcat()
	if err != nil {
		return nil, err
	}
	for p.isOp("+") || p.isOp("-") {
		t := p.next()
		r, err := p.parseConcat()
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: t.val, l: l, r: r, line: t.line}
	}
	return l, nil
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
	l, err := p.parsePow()
	if err != nil {
		return nil, err
	}
	for p.isOp("*") || p.isOp("/") || p.isOp("//") || p.isOp("%") {
		t := p.next()
		r, err := p.parsePow()
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: t.val, l: l, r: r, line: t.line}
	}
	return l, nil
}

func (p *parser) parsePow() (expr, error) {
	l, err := p.parseUnary(true)
	if err != nil {
		return nil, err
	}
	for p.isOp("**") {
		t := p.next()
		r, err := p.parseUnary(true)
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: "**", l: l, r: r, line: t.line}
	}
	return l, nil
}

func (p *parser) parseUnary(withFilter bool) (expr, error) {
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
			for !p.isOp("]") {
				if len(l.items) > 0 {
					if err := p.expectOp(","); err != nil {
						return nil, err
					}
					if p.isOp("]") {
						break
					}
				}
				e, err := p.parseExpr(true)
				if err != nil {
					return nil, err
				}
				l.items = append(l.items, e)
			}
			p.next()
			return l, nil
		case "{":
			p.next()
			d := &dictExpr{}
			for !p.isOp("}") {
				if len(d.keys) > 0 {
					if err := p.expectOp(","); err != nil {
						return nil, err
					}
					if p.isOp("}") {
						break
					}
				}
				k, err := p.parseExpr(true)
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(":"); err != nil {
					return nil, err
				}
				v, err := p.parseExpr(true)
				if err != nil {
					return nil, err
				}
				d.keys = append(d.keys, k)
				d.vals = append(d.vals, v)
			}
			p.next()
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
