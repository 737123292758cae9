package grammar

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Number bounds are enforced exactly: the grammar spells only the numbers
// inside the bounds. Bounded numbers are written without an exponent and with
// at most maxSignificant digits, as are the bounds themselves (else the
// schema is refused naming the keyword): decimal to double rounding is
// monotone and tells such decimals apart, so a reader comparing doubles
// finds the same order as the grammar's exact decimal comparison.
const maxSignificant = 15

// decimal is a finite decimal number: its integer digits (no leading zero,
// "0" for none) and its fraction digits (no trailing zero).
type decimal struct {
	neg      bool
	whole    string
	fraction string
}

// parseDecimal reads a JSON number's text exactly.
func parseDecimal(s string) (decimal, error) {
	var d decimal
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 400 || e < -400 {
			return d, fmt.Errorf("%s is out of range", s)
		}
		mant, exp = s[:i], e
	}
	if strings.HasPrefix(mant, "-") {
		d.neg, mant = true, mant[1:]
	}
	whole, frac, _ := strings.Cut(mant, ".")
	digits := whole + frac
	if whole == "" || strings.Trim(digits, "0123456789") != "" {
		return d, fmt.Errorf("%q is not a number", s)
	}
	point := len(whole) + exp // where the point goes in digits
	if point > 400 || point < -400 {
		return d, fmt.Errorf("%s is out of range", s)
	}
	for point > len(digits) {
		digits += "0"
	}
	for point < 0 {
		digits, point = "0"+digits, point+1
	}
	d.whole = strings.TrimLeft(digits[:point], "0")
	d.fraction = strings.TrimRight(digits[point:], "0")
	if d.whole == "" {
		d.whole = "0"
	}
	if d.whole == "0" && d.fraction == "" {
		d.neg = false
	}
	return d, nil
}

// significant is how many digits d's value needs.
func (d decimal) significant() int {
	return len(strings.Trim(d.whole+d.fraction, "0"))
}

// cmpMagnitude compares |a| and |b|.
func cmpMagnitude(a, b decimal) int {
	if len(a.whole) != len(b.whole) {
		return cmpInt(len(a.whole), len(b.whole))
	}
	if c := strings.Compare(a.whole, b.whole); c != 0 {
		return c
	}
	return strings.Compare(a.fraction, b.fraction) // no trailing zeros: text order is value order
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpDecimal compares a and b.
func cmpDecimal(a, b decimal) int {
	switch {
	case a.neg && !b.neg:
		return -1
	case !a.neg && b.neg:
		return 1
	case a.neg:
		return -cmpMagnitude(a, b)
	}
	return cmpMagnitude(a, b)
}

// bound is one side of a range; absent when the schema gives none.
type bound struct {
	at        decimal
	inclusive bool
	present   bool
	keyword   string
}

// bounds reads minimum, exclusiveMinimum, maximum and exclusiveMaximum
// (draft 4's boolean exclusive flags too) into the tightest lower and upper bound.
func bounds(s map[string]any, path string) (lo, hi bound, err error) {
	read := func(kw string) (bound, error) {
		switch v := s[kw].(type) {
		case nil, bool:
			return bound{}, nil
		case json.Number:
			d, err := parseDecimal(string(v))
			if err != nil {
				return bound{}, errAt(kw, path, "%v", err)
			}
			return bound{at: d, inclusive: !strings.HasPrefix(kw, "exclusive"), present: true, keyword: kw}, nil
		}
		return bound{}, errAt(kw, path, "%s must be a number", kw)
	}
	var b [4]bound
	for i, kw := range []string{"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"} {
		if b[i], err = read(kw); err != nil {
			return
		}
	}
	if x, _ := s["exclusiveMinimum"].(bool); x && b[0].present { // draft 4
		b[0].inclusive = false
	}
	if x, _ := s["exclusiveMaximum"].(bool); x && b[2].present {
		b[2].inclusive = false
	}
	tighter := func(a, b bound, sign int) bound {
		switch {
		case !a.present:
			return b
		case !b.present:
			return a
		}
		c := cmpDecimal(a.at, b.at) * sign
		if c > 0 || c == 0 && !a.inclusive {
			return a
		}
		return b
	}
	return tighter(b[0], b[1], 1), tighter(b[2], b[3], -1), nil
}

// number is the rule for numbers or integers within the schema's bounds.
func (c *converter) number(t string, s map[string]any, path string) (string, error) {
	lo, hi, err := bounds(s, path)
	if err != nil {
		return "", err
	}
	if !lo.present && !hi.present {
		return c.use(t), nil
	}
	if lo.present && hi.present {
		if d := cmpDecimal(lo.at, hi.at); d > 0 || d == 0 && !(lo.inclusive && hi.inclusive) {
			return "", errAt(lo.keyword, path, "no %s lies between %s and %s", t, lo.keyword, hi.keyword)
		}
	}
	if t == "integer" {
		l, h, err := integerBounds(lo, hi, path)
		if err != nil {
			return "", err
		}
		if l > h {
			return "", errAt(lo.keyword, path, "no integer lies between %s and %s", lo.keyword, hi.keyword)
		}
		return "(" + intRange(l, h) + ") " + c.use("ws"), nil
	}
	for _, b := range []bound{lo, hi} {
		if b.present && (b.at.significant() > maxSignificant || len(b.at.whole) > maxSignificant) {
			return "", errAt(b.keyword, path, "bounds with more than %d significant digits are not supported (a double cannot compare them exactly)", maxSignificant)
		}
	}
	zero := decimal{whole: "0"}
	var alts []string
	// zero and the positive numbers: |x| from max(lo, 0) up to hi
	if !hi.present || !hi.at.neg && (hi.at.whole != "0" || hi.at.fraction != "" || hi.inclusive) {
		from := bound{at: zero, inclusive: true}
		if lo.present && !lo.at.neg {
			from = lo
		}
		if e := magnitudes(from, hi); e != "" {
			alts = append(alts, e)
		}
	}
	// the negative numbers: |x| from max(-hi, 0) (never 0 itself) up to -lo
	if !lo.present || lo.at.neg {
		from := bound{at: zero, inclusive: false}
		if hi.present && hi.at.neg {
			from = hi
		}
		if e := magnitudes(from, lo); e != "" {
			alts = append(alts, `"-" (`+e+`)`)
		}
	}
	if len(alts) == 0 {
		return "", errAt(lo.keyword, path, "no number lies between %s and %s", lo.keyword, hi.keyword)
	}
	return "(" + strings.Join(alts, " | ") + ") " + c.use("ws"), nil
}

// integerBounds is the integer range [l, h] the bounds allow.
func integerBounds(lo, hi bound, path string) (l, h int64, err error) {
	l, h = math.MinInt64, math.MaxInt64
	whole := func(b bound) (int64, error) {
		v, err := strconv.ParseInt(b.at.whole, 10, 64)
		if err != nil || len(b.at.whole) > 18 {
			return 0, errAt(b.keyword, path, "%s is too large for an integer bound", b.keyword)
		}
		if b.at.neg {
			v = -v
		}
		return v, nil
	}
	if lo.present {
		if l, err = whole(lo); err != nil {
			return
		}
		// the least integer above (or at, inclusive) lo; whole truncates toward 0
		if lo.at.fraction != "" && !lo.at.neg || lo.at.fraction == "" && !lo.inclusive {
			l++
		}
	}
	if hi.present {
		if h, err = whole(hi); err != nil {
			return
		}
		if hi.at.fraction != "" && hi.at.neg || hi.at.fraction == "" && !hi.inclusive {
			h--
		}
	}
	return l, h, nil
}

// magnitudes is a GBNF expression for the non-negative decimals from from
// up to to (no limit when to is absent), as their magnitude is written:
// integer digits without leading zeros, then optionally "." and digits, at
// most maxSignificant digits in all. "" when there are none.
func magnitudes(from, to bound) string {
	var alts []string
	fracLimit := func(intDigits int) int { return max(maxSignificant-intDigits, 0) }
	add := func(whole, frac string) {
		if frac != "none" {
			alts = append(alts, whole+frac)
		}
	}
	lo := fractionBound{digits: from.at.fraction, inclusive: from.inclusive}
	hi := fractionBound{digits: to.at.fraction, inclusive: to.inclusive}
	if to.present && cmpMagnitude(from.at, to.at) > 0 {
		return ""
	}
	if to.present && from.at.whole == to.at.whole {
		add(lit(from.at.whole), fractionPart(&lo, &hi, fracLimit(len(from.at.whole))))
		return strings.Join(alts, " | ")
	}
	add(lit(from.at.whole), fractionPart(&lo, nil, fracLimit(len(from.at.whole))))
	first, _ := strconv.ParseUint(from.at.whole, 10, 64)
	last := uint64(math.Pow10(maxSignificant)) - 1
	if to.present {
		last, _ = strconv.ParseUint(to.at.whole, 10, 64)
		last-- // to's whole part has its own fraction bound
	}
	for n := len(strconv.FormatUint(first+1, 10)); first+1 <= last && n <= len(strconv.FormatUint(last, 10)); n++ {
		a, b := max(first+1, pow10(n-1)), min(last, pow10(n)-1)
		if a > b {
			continue
		}
		add("("+sameLen(strconv.FormatUint(a, 10), strconv.FormatUint(b, 10))+")", fractionPart(nil, nil, fracLimit(n)))
	}
	if to.present {
		add(lit(to.at.whole), fractionPart(nil, &hi, fracLimit(len(to.at.whole))))
	}
	return strings.Join(alts, " | ")
}

func pow10(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}

// fractionBound bounds the digits after the point: 0.digits, inclusive or not.
type fractionBound struct {
	digits    string // no trailing zeros
	inclusive bool
}

// fractionPart is the expression for what follows the integer digits: ""
// (nothing), or "." and 1 to limit digits, whose value 0.d lies within
// lo and hi (nil: no bound); "none" when nothing can.
func fractionPart(lo, hi *fractionBound, limit int) string {
	digits, empty := fractionDigits(lo, hi, limit)
	switch {
	case digits == "" && !empty:
		return "none"
	case digits == "":
		return ""
	case empty:
		return ` ("." (` + digits + `))?`
	}
	return ` "." (` + digits + `)`
}

// fractionDigits is a GBNF expression for the non-empty digit strings d of
// at most limit digits with 0.d within lo and hi ("" when there are none),
// and whether the empty string (0) lies within them.
func fractionDigits(lo, hi *fractionBound, limit int) (string, bool) {
	if lo != nil && lo.digits == "" && lo.inclusive {
		lo = nil // 0.d ≥ 0 always holds
	}
	empty := lo == nil && (hi == nil || hi.digits != "" || hi.inclusive)
	if limit == 0 {
		return "", empty
	}
	any := func(from, to byte) string {
		s := fmt.Sprintf("[%c-%c]", from, to)
		if limit > 1 {
			s += fmt.Sprintf(" [0-9]{0,%d}", limit-1)
		}
		return s
	}
	if lo == nil && hi == nil {
		return any('0', '9'), empty
	}
	first := func(b *fractionBound) byte {
		if b.digits == "" {
			return '0'
		}
		return b.digits[0]
	}
	rest := func(b *fractionBound) *fractionBound {
		r := *b
		if r.digits != "" {
			r.digits = r.digits[1:]
		}
		return &r
	}
	a, z := byte('0'), byte('9') // digits with no bound on what follows: (a, z) open at bounded ends
	var alts []string
	if lo != nil {
		a = first(lo)
	}
	if hi != nil {
		z = first(hi)
		if hi.digits == "" { // 0.d ≤ 0 (or < 0): only zeros, if any
			z = '0'
		}
	}
	special := func(d byte, lo2, hi2 *fractionBound) {
		tail, empty := fractionDigits(lo2, hi2, limit-1)
		switch {
		case tail != "" && empty:
			alts = append(alts, lit(string(d))+" ("+tail+")?")
		case tail != "":
			alts = append(alts, lit(string(d))+" ("+tail+")")
		case empty:
			alts = append(alts, lit(string(d)))
		}
	}
	switch {
	case a > z:
	case a == z && (lo != nil || hi != nil):
		var l2, h2 *fractionBound
		if lo != nil {
			l2 = rest(lo)
		}
		if hi != nil {
			h2 = rest(hi)
		}
		special(a, l2, h2)
	default:
		from, to := a, z
		if lo != nil {
			special(a, rest(lo), nil)
			from++
		}
		if hi != nil {
			to--
		}
		if from <= to {
			alts = append(alts, any(from, to))
		}
		if hi != nil {
			special(z, nil, rest(hi))
		}
	}
	return strings.Join(alts, " | "), empty
}

// intRange is a GBNF expression for the integers in [lo, hi] (MinInt64 and
// MaxInt64 standing for no bound), written without leading zeros.
func intRange(lo, hi int64) string {
	var alts []string
	if lo < 0 {
		// negatives: "-" then |x| for x in [max(lo,..), min(hi,-1)]
		nhi := uint64(0)
		if lo == math.MinInt64 {
			nhi = math.MaxUint64
		} else {
			nhi = uint64(-lo)
		}
		nlo := uint64(1)
		if hi < -1 {
			nlo = uint64(-hi)
		}
		alts = append(alts, `"-" (`+uintRange(nlo, nhi)+`)`)
		if hi < 0 {
			return strings.Join(alts, " | ")
		}
		lo = 0
	}
	h := uint64(hi)
	if hi == math.MaxInt64 {
		h = math.MaxUint64
	}
	alts = append(alts, uintRange(uint64(lo), h))
	return strings.Join(alts, " | ")
}

// uintRange is the naturals in [lo, hi]; hi MaxUint64 means no bound (then
// up to 16 digits).
func uintRange(lo, hi uint64) string {
	const maxDigits = 16
	unbounded := hi == math.MaxUint64
	ls := strconv.FormatUint(lo, 10)
	var alts []string
	if unbounded {
		// numbers with len(ls) digits from lo, then any longer number
		alts = append(alts, sameLen(ls, strings.Repeat("9", len(ls))))
		if len(ls) < maxDigits {
			alts = append(alts, fmt.Sprintf(`[1-9] [0-9]{%d,%d}`, len(ls), maxDigits-1))
		}
		return strings.Join(alts, " | ")
	}
	hs := strconv.FormatUint(hi, 10)
	for n := len(ls); n <= len(hs); n++ {
		a, b := ls, hs
		if n > len(ls) {
			a = "1" + strings.Repeat("0", n-1)
		}
		if n < len(hs) {
			b = strings.Repeat("9", n)
		}
		alts = append(alts, sameLen(a, b))
	}
	return strings.Join(alts, " | ")
}

// sameLen is the numbers from a to b, both of the same number of digits.
func sameLen(a, b string) string {
	if a == "" {
		return `""`
	}
	if a[0] == b[0] {
		rest := sameLen(a[1:], b[1:])
		if rest == `""` {
			return lit(a[:1])
		}
		return lit(a[:1]) + " (" + rest + ")"
	}
	n := len(a) - 1
	digits := func(k int) string {
		if k == 0 {
			return ""
		}
		return fmt.Sprintf(" [0-9]{%d}", k)
	}
	var alts []string
	if strings.Trim(a[1:], "0") == "" {
		alts = append(alts, fmt.Sprintf("[%c-%c]", a[0], a[0])+digits(n))
	} else {
		alts = append(alts, lit(a[:1])+" ("+sameLen(a[1:], strings.Repeat("9", n))+")")
	}
	if a[0]+1 <= b[0]-1 {
		alts = append(alts, fmt.Sprintf("[%c-%c]", a[0]+1, b[0]-1)+digits(n))
	}
	if strings.Trim(b[1:], "9") == "" {
		alts = append(alts, fmt.Sprintf("[%c-%c]", b[0], b[0])+digits(n))
	} else {
		alts = append(alts, lit(b[:1])+" ("+sameLen(strings.Repeat("0", n), b[1:])+")")
	}
	return strings.Join(alts, " | ")
}
