package chat

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
