package grammar

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// SchemaError is a JSON Schema the converter cannot turn into a grammar;
// Keyword names the keyword at fault.
type SchemaError struct {
	Keyword string
	Path    string // JSON pointer of the schema holding it
	Msg     string
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("json schema: %s at %q: %s", e.Keyword, "#"+e.Path, e.Msg)
}

// unsupported lists keywords that restrict values in ways the converter does
// not follow: a schema using them is refused rather than half enforced.
var unsupported = []string{"allOf", "not", "if", "then", "else", "patternProperties", "dependentRequired",
	"dependentSchemas", "dependencies", "uniqueItems", "multipleOf", "minProperties", "maxProperties",
	"contains", "minContains", "maxContains", "propertyNames", "unevaluatedProperties", "unevaluatedItems", "additionalItems"}

// SchemaToGBNF converts a JSON Schema to a GBNF grammar whose root matches
// the JSON texts the schema accepts (with short optional whitespace between
// tokens). Objects list their properties in the schema's order, required and
// optional ones alike; additionalProperties is false unless the schema says
// true or gives a schema (objects without properties take any member).
func SchemaToGBNF(schema []byte) (string, error) {
	root, order, err := decodeSchema(schema)
	if err != nil {
		return "", &SchemaError{Keyword: "$schema", Msg: "not valid JSON: " + err.Error()}
	}
	c := &converter{root: root, keys: order, rules: map[string]string{}, refs: map[string]string{}}
	body, err := c.visit(root, "")
	if err != nil {
		return "", err
	}
	c.add("root", body)
	return c.text(), nil
}

type converter struct {
	root  any
	keys  keyOrder // the key order of the schema's objects
	rules map[string]string
	order []string
	refs  map[string]string // $ref → rule name
	n     int
}

func (c *converter) add(name, body string) {
	if _, ok := c.rules[name]; !ok {
		c.order = append(c.order, name)
	}
	c.rules[name] = body
}

func (c *converter) fresh(base string) string {
	c.n++
	return fmt.Sprintf("%s-%d", base, c.n)
}

func (c *converter) text() string {
	var b strings.Builder
	for _, n := range c.order {
		fmt.Fprintf(&b, "%s ::= %s\n", n, c.rules[n])
	}
	return b.String()
}

// common rules, added on use.
var commonRules = map[string]string{
	"ws": `| " " | "\n" [ \t]{0,8}`,
	// an escaped UTF-16 surrogate would count as two characters here and one
	// to a reader (or be no character at all): astral characters come as UTF-8
	"char":    `[^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" ([0-9a-cA-CeEfF] hex{3} | [dD] [0-7] hex{2}))`,
	"string":  `"\"" char* "\"" ws`,
	"int":     `"-"? ("0" | [1-9] [0-9]{0,15})`,
	"integer": `int ws`,
	"number":  `int ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})? ws`,
	"boolean": `("true" | "false") ws`,
	"null":    `"null" ws`,
	"value":   `object | array | string | number | boolean | null`,
	"object":  `"{" ws (member ("," ws member)*)? "}" ws`,
	"member":  `string ":" ws value`,
	"array":   `"[" ws (value ("," ws value)*)? "]" ws`,
	// days that every year has in the month (February 29 left out)
	"date":      `[0-9]{4} "-" ("0" [13578] "-" day31 | "1" [02] "-" day31 | "0" [469] "-" day30 | "11-" day30 | "02-" day28)`,
	"day28":     `"0" [1-9] | "1" [0-9] | "2" [0-8]`,
	"day30":     `"0" [1-9] | [12] [0-9] | "30"`,
	"day31":     `"0" [1-9] | [12] [0-9] | "3" [01]`,
	"time":      `([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,6})? ("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9])`,
	"date-time": `date "T" time`,
	"uuid":      `hex{8} "-" hex{4} "-" hex{4} "-" hex{4} "-" hex{12}`,
	"hex":       `[0-9a-fA-F]`,
}

var ruleDeps = map[string][]string{
	"string": {"char", "ws"}, "integer": {"int", "ws"}, "number": {"int", "ws"}, "boolean": {"ws"}, "null": {"ws"},
	"value": {"object", "array", "string", "number", "boolean", "null"}, "object": {"ws", "member"},
	"member": {"string", "value"}, "array": {"ws", "value"}, "date-time": {"date", "time"}, "uuid": {"hex"},
	"char": {"hex"}, "date": {"day28", "day30", "day31"},
}

// use adds a common rule (and those it needs) and returns its name.
func (c *converter) use(name string) string {
	if _, ok := c.rules[name]; ok {
		return name
	}
	c.add(name, commonRules[name])
	for _, d := range ruleDeps[name] {
		c.use(d)
	}
	return name
}

// lit is s as a GBNF string literal.
func lit(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// jsonLit is the literal for the JSON encoding of v.
func jsonLit(v any) string {
	b, _ := json.Marshal(v)
	return lit(string(b))
}

func errAt(kw, path, format string, args ...any) error {
	return &SchemaError{Keyword: kw, Path: path, Msg: fmt.Sprintf(format, args...)}
}

// visit returns a GBNF expression for the values schema s accepts.
func (c *converter) visit(s any, path string) (string, error) {
	switch s := s.(type) {
	case bool:
		if !s {
			return "", errAt("false", path, "a false schema accepts no value")
		}
		return c.use("value"), nil
	case map[string]any:
		return c.visitObject(s, path)
	}
	return "", errAt("type", path, "a schema must be an object or a boolean")
}

func (c *converter) visitObject(s map[string]any, path string) (string, error) {
	for _, kw := range unsupported {
		if _, ok := s[kw]; ok {
			if kw == "allOf" {
				if all, ok := s[kw].([]any); ok && len(all) == 1 {
					return c.visit(all[0], path+"/allOf/0")
				}
			}
			return "", errAt(kw, path, "%q is not supported", kw)
		}
	}
	if ref, ok := s["$ref"].(string); ok {
		return c.ref(ref, path)
	}
	if v, ok := s["const"]; ok {
		return "(" + jsonLit(v) + " " + c.use("ws") + ")", nil
	}
	if e, ok := s["enum"]; ok {
		vals, ok := e.([]any)
		if !ok || len(vals) == 0 {
			return "", errAt("enum", path, "enum must be a non-empty array")
		}
		var alts []string
		for _, v := range vals {
			alts = append(alts, jsonLit(v))
		}
		return "((" + strings.Join(alts, " | ") + ") " + c.use("ws") + ")", nil
	}
	for _, kw := range []string{"anyOf", "oneOf"} {
		if v, ok := s[kw]; ok {
			list, ok := v.([]any)
			if !ok || len(list) == 0 {
				return "", errAt(kw, path, "%s must be a non-empty array", kw)
			}
			var alts []string
			for i, sub := range list {
				x, err := c.visit(merge(s, sub, kw), fmt.Sprintf("%s/%s/%d", path, kw, i))
				if err != nil {
					return "", err
				}
				alts = append(alts, x)
			}
			return "(" + strings.Join(alts, " | ") + ")", nil
		}
	}
	switch t := s["type"].(type) {
	case nil:
		switch {
		case s["properties"] != nil || s["additionalProperties"] != nil || s["required"] != nil:
			return c.typed("object", s, path)
		case s["items"] != nil || s["prefixItems"] != nil:
			return c.typed("array", s, path)
		}
		return c.use("value"), nil
	case string:
		return c.typed(t, s, path)
	case []any:
		var alts []string
		for _, x := range t {
			ts, ok := x.(string)
			if !ok {
				return "", errAt("type", path, "type names must be strings")
			}
			e, err := c.typed(ts, s, path)
			if err != nil {
				return "", err
			}
			alts = append(alts, e)
		}
		if len(alts) == 0 {
			return "", errAt("type", path, "an empty type array accepts no value")
		}
		return "(" + strings.Join(alts, " | ") + ")", nil
	}
	return "", errAt("type", path, "type must be a string or an array of strings")
}

// merge is a branch of anyOf/oneOf with the keywords beside it (such as a
// type or properties shared by the branches) folded in.
func merge(parent map[string]any, sub any, kw string) any {
	m, ok := sub.(map[string]any)
	if !ok {
		return sub
	}
	out := map[string]any{}
	for k, v := range parent {
		if k != kw && k != "$defs" && k != "definitions" && k != "title" && k != "description" {
			out[k] = v
		}
	}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (c *converter) ref(ref, path string) (string, error) {
	if name, ok := c.refs[ref]; ok {
		return name, nil
	}
	if !strings.HasPrefix(ref, "#") {
		return "", errAt("$ref", path, "only local references (#/...) are supported, got %q", ref)
	}
	var target any = c.root
	ptr := strings.TrimPrefix(ref, "#")
	if ptr != "" {
		for _, part := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
			part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
			switch t := target.(type) {
			case map[string]any:
				target = t[part]
			case []any:
				i, err := strconv.Atoi(part)
				if err != nil || i < 0 || i >= len(t) {
					target = nil
				} else {
					target = t[i]
				}
			default:
				target = nil
			}
			if target == nil {
				return "", errAt("$ref", path, "reference %q points at nothing", ref)
			}
		}
	}
	base := "ref"
	if i := strings.LastIndexByte(ref, '/'); i >= 0 {
		base = sanitize(ref[i+1:])
	}
	name := c.fresh(base)
	c.refs[ref] = name
	c.add(name, `"?"`) // placeholder: the definition may refer to itself
	body, err := c.visit(target, ptr)
	if err != nil {
		return "", err
	}
	c.rules[name] = body
	return name, nil
}

func sanitize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if isNameByte(s[i]) {
			b.WriteByte(s[i])
		} else {
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "ref"
	}
	return b.String()
}

func num(s map[string]any, kw, path string) (float64, bool, error) {
	v, ok := s[kw]
	if !ok {
		return 0, false, nil
	}
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil, err
	case bool:
		return 0, false, nil // draft 4 exclusive flags, handled by the caller
	}
	return 0, false, errAt(kw, path, "%s must be a number", kw)
}

func (c *converter) typed(t string, s map[string]any, path string) (string, error) {
	switch t {
	case "null":
		return c.use("null"), nil
	case "boolean":
		return c.use("boolean"), nil
	case "string":
		return c.str(s, path)
	case "integer", "number":
		return c.number(t, s, path)
	case "array":
		return c.array(s, path)
	case "object":
		return c.object(s, path)
	}
	return "", errAt("type", path, "unknown type %q", t)
}

func (c *converter) str(s map[string]any, path string) (string, error) {
	if f, ok := s["format"].(string); ok {
		switch f {
		case "date", "time", "date-time", "uuid":
			return `"\"" ` + c.use(f) + ` "\"" ` + c.use("ws"), nil
		}
	}
	if p, ok := s["pattern"].(string); ok {
		e, err := patternGBNF(p)
		if err != nil {
			return "", errAt("pattern", path, "%v", err)
		}
		return `"\"" ` + e + ` "\"" ` + c.use("ws"), nil
	}
	lo, hasLo, err := num(s, "minLength", path)
	if err != nil {
		return "", err
	}
	hi, hasHi, err := num(s, "maxLength", path)
	if err != nil {
		return "", err
	}
	if !hasLo && !hasHi {
		return c.use("string"), nil
	}
	if lo < 0 || hi < 0 || hasHi && hi < lo || hi > 10000 || lo > 10000 {
		return "", errAt("maxLength", path, "length bounds %v..%v are not usable", lo, hi)
	}
	rep := fmt.Sprintf("{%d,}", int(lo))
	if hasHi {
		rep = fmt.Sprintf("{%d,%d}", int(lo), int(hi))
	}
	c.use("char")
	return `"\"" char` + rep + ` "\"" ` + c.use("ws"), nil
}

func (c *converter) array(s map[string]any, path string) (string, error) {
	lo, _, err := num(s, "minItems", path)
	if err != nil {
		return "", err
	}
	hi, hasHi, err := num(s, "maxItems", path)
	if err != nil {
		return "", err
	}
	if lo < 0 || hi < 0 || hasHi && hi < lo || lo > 1000 || hi > 1000 {
		return "", errAt("maxItems", path, "item counts %v..%v are not usable", lo, hi)
	}
	ws := c.use("ws")
	var parts []string // the items in order; then the repeated one
	if pre, ok := s["prefixItems"]; ok {
		list, ok := pre.([]any)
		if !ok {
			return "", errAt("prefixItems", path, "prefixItems must be an array")
		}
		for i, sub := range list {
			e, err := c.visit(sub, fmt.Sprintf("%s/prefixItems/%d", path, i))
			if err != nil {
				return "", err
			}
			parts = append(parts, e)
		}
	}
	item := ""
	switch it := s["items"].(type) {
	case nil:
		if len(parts) == 0 {
			item = c.use("value")
		}
	case bool:
		if it {
			item = c.use("value")
		}
	default:
		e, err := c.visit(it, path+"/items")
		if err != nil {
			return "", err
		}
		item = e
	}
	name := c.fresh("array")
	itemRule := ""
	if item != "" {
		itemRule = c.fresh("item")
		c.add(itemRule, item)
	}
	// the list of elements: prefix items (each needed when within minItems,
	// else optional), then item repeated
	var build func(i int, first bool) string
	build = func(i int, first bool) string {
		sep := ""
		if !first {
			sep = `"," ` + ws + " "
		}
		if i < len(parts) {
			rest := build(i+1, false)
			e := sep + parts[i] + " " + rest
			if i >= int(lo) {
				return "(" + e + ")?"
			}
			return e
		}
		if itemRule == "" {
			return ""
		}
		min := max(int(lo)-len(parts), 0)
		maxRep := -1
		if hasHi {
			maxRep = int(hi) - len(parts)
			if maxRep <= 0 {
				return ""
			}
		}
		one := "(" + sep + itemRule + ")"
		if first {
			// first item without a comma, the rest with
			more := `("," ` + ws + " " + itemRule + ")"
			rep := func(lo, hi int) string {
				if hi < 0 {
					return fmt.Sprintf("%s{%d,}", more, lo)
				}
				return fmt.Sprintf("%s{%d,%d}", more, lo, hi)
			}
			if min == 0 {
				return "(" + itemRule + " " + rep(0, maxRep-1) + ")?"
			}
			return itemRule + " " + rep(min-1, maxRep-1)
		}
		if maxRep < 0 {
			return fmt.Sprintf("%s{%d,}", one, min)
		}
		return fmt.Sprintf("%s{%d,%d}", one, min, maxRep)
	}
	if hasHi && int(hi) < len(parts) {
		parts = parts[:int(hi)]
	}
	c.add(name, `"[" `+ws+" "+build(0, true)+` "]" `+ws)
	return name, nil
}

func (c *converter) object(s map[string]any, path string) (string, error) {
	ws := c.use("ws")
	props, _ := s["properties"].(map[string]any)
	required := map[string]bool{}
	var requiredList []string // in the schema's order
	if r, ok := s["required"].([]any); ok {
		for _, x := range r {
			if k, ok := x.(string); ok && !required[k] {
				required[k] = true
				requiredList = append(requiredList, k)
			}
		}
	}
	var add string // the schema of additional members, "" for none
	switch a := s["additionalProperties"].(type) {
	case nil:
		if len(props) == 0 {
			add = c.use("value")
		}
	case bool:
		if a {
			add = c.use("value")
		}
	default:
		e, err := c.visit(a, path+"/additionalProperties")
		if err != nil {
			return "", err
		}
		add = e
	}
	// property order: as written in the schema
	keys := c.orderedKeys(props)
	schemas := map[string]any{}
	for _, k := range keys {
		schemas[k] = props[k]
	}
	for _, k := range requiredList {
		if _, ok := schemas[k]; !ok {
			if add == "" {
				return "", errAt("required", path, "required property %q is not in properties", k)
			}
			schemas[k] = true
			if a, ok := s["additionalProperties"].(map[string]any); ok {
				schemas[k] = a
			}
			keys = append(keys, k)
		}
	}
	type member struct {
		rule     string
		required bool
	}
	var members []member
	for _, k := range keys {
		e, err := c.visit(schemas[k], path+"/properties/"+k)
		if err != nil {
			return "", err
		}
		r := c.fresh("kv-" + sanitize(k))
		c.add(r, jsonLit(k)+" "+ws+` ":" `+ws+" "+e)
		members = append(members, member{r, required[k]})
	}
	addRule := ""
	if add != "" {
		// an additional member's name is none of the named ones: a reader
		// would keep one of two members of the same name
		addRule = c.fresh("additional-kv")
		c.add(addRule, c.keyNotIn(keys)+" "+ws+` ":" `+ws+" "+add)
	}
	name := c.fresh("object")
	// rest(i, first): the members from i on; first: no comma before the next
	memo := map[[2]int]string{}
	var rest func(i int, first bool) string
	rest = func(i int, first bool) string {
		key := [2]int{i, 0}
		if first {
			key[1] = 1
		}
		if r, ok := memo[key]; ok {
			return r
		}
		sep := ""
		if !first {
			sep = `"," ` + ws + " "
		}
		var body string
		if i == len(members) {
			switch {
			case addRule == "":
				return ""
			case first:
				body = "(" + addRule + ` ("," ` + ws + " " + addRule + ")*)?"
			default:
				body = `("," ` + ws + " " + addRule + ")*"
			}
		} else {
			m := members[i]
			with := sep + m.rule + " " + rest(i+1, false)
			if m.required {
				body = with
			} else {
				body = "(" + with + ") | (" + rest(i+1, first) + ")"
				if strings.TrimSpace(rest(i+1, first)) == "" {
					body = "(" + with + ")?"
				}
			}
		}
		r := c.fresh(name + "-rest")
		c.add(r, body)
		memo[key] = r
		return r
	}
	c.add(name, `"{" `+ws+" "+rest(0, true)+` "}" `+ws)
	return name, nil
}

// keyNotIn is a JSON string, as an object key, whose value is none of names.
// Until it leaves every name's path it is written without escapes (an escape
// could spell a name's character); after that, anything goes.
func (c *converter) keyNotIn(names []string) string {
	if len(names) == 0 {
		return `"\"" ` + c.use("char") + `* "\""`
	}
	type trie struct {
		end  bool
		kids map[rune]*trie
		runs []rune // the kids' characters, in the order met
	}
	root := &trie{kids: map[rune]*trie{}}
	for _, name := range names {
		n := root
		for _, r := range name {
			k, ok := n.kids[r]
			if !ok {
				k = &trie{kids: map[rune]*trie{}}
				n.kids[r], n.runs = k, append(n.runs, r)
			}
			n = k
		}
		n.end = true
	}
	char := c.use("char")
	var rest func(n *trie) string // the rest of the name, from a node of the trie
	rest = func(n *trie) string {
		// a character no name continues with here, then anything
		class := `[^"\\\x7F\x00-\x1F`
		var alts []string
		for _, r := range n.runs {
			class += classEscape(r)
			if r >= 0x20 && r != '"' && r != '\\' && r != 0x7f {
				alts = append(alts, lit(string(r))+" "+rest(n.kids[r]))
			}
		}
		alts = append([]string{class + "] " + char + "*"}, alts...)
		if n.end {
			return "(" + strings.Join(alts, " | ") + ")"
		}
		return "(" + strings.Join(alts, " | ") + ")?"
	}
	return `"\"" ` + rest(root) + ` "\""`
}

// classEscape is r as written inside a GBNF character class.
func classEscape(r rune) string {
	switch r {
	case ']', '[', '\\', '-', '^', '"':
		return `\` + string(r)
	}
	if r < 0x20 || r == 0x7f {
		return fmt.Sprintf(`\x%02X`, r)
	}
	return string(r)
}

// orderedKeys is the property names in the schema's order (sorted for a
// map the decoder did not make, such as one built by merge).
func (c *converter) orderedKeys(props map[string]any) []string {
	if keys := c.keys.of(props); len(keys) == len(props) {
		return keys
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
