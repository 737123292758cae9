package kernels

import "math"

// The CPU's float32 exp and tanh (expf and tanhf as C gives them), built
// from correctly rounded add, subtract and multiply (never fused: every
// product that meets an addition is converted to float32 first, which Go
// does not fuse), exact products by Dekker's splitting, and integer bit
// manipulation, so that they give the same bits on every machine. (The
// Vulkan attention shader once had a line-for-line copy; since the parity
// policy of issue 17 it uses the device's exp and fma.)

// twoSum returns s = a+b rounded and the exact error e = a+b-s (Knuth).
func twoSum(a, b float32) (s, e float32) {
	s = a + b
	bb := s - a
	e = (a - (s - bb)) + (b - bb)
	return s, e
}

// split is Veltkamp's splitting of a into a = hi + lo, each half the bits.
func split(a float32) (hi, lo float32) {
	c := float32(4097 * a)
	hi = c - (c - a)
	lo = a - hi
	return hi, lo
}

// twoProd returns p = a*b rounded and the exact error e = a*b-p (Dekker),
// exact as long as nothing overflows or falls below the normal range.
func twoProd(a, b float32) (p, e float32) {
	p = float32(a * b)
	ah, al := split(a)
	bh, bl := split(b)
	e = ((float32(ah*bh) - p) + float32(ah*bl) + float32(al*bh)) + float32(al*bl)
	return p, e
}

// FMA32 is x*y+z rounded once to float32, as the FMA instructions give it.
func FMA32(x, y, z float32) float32 { return fma32(x, y, z) }

// expBase[i] is 2^(2^i/64) as a float32 pair hi+lo (hi rounded to nearest,
// lo the rest rounded), the factors expTable is built from. The bits are
// written out so that they cannot drift between machines (TestExpBase
// checks them against math.Exp2).
var expBase = [6][2]uint32{
	{0x3f8164d2, 0xb1c43fd0}, // 2^(1/64)
	{0x3f82cd87, 0xb34ea7a9}, // 2^(2/64)
	{0x3f85aac3, 0x334f9891}, // 2^(4/64)
	{0x3f8b95c2, 0xb260aba1}, // 2^(8/64)
	{0x3f9837f0, 0x33231b71}, // 2^(16/64)
	{0x3fb504f3, 0x32cfe77a}, // 2^(32/64)
}

// expTable[j] is 2^(j/64) as hi+lo: the product of the expBase factors of j's
// set bits, lowest first, in float-float arithmetic (about 44 bits).
var expTable = func() (t [64][2]float32) {
	for j := range t {
		h, l := float32(1), float32(0)
		for i, b := range expBase {
			if j>>i&1 != 0 {
				h, l = mulFF(h, l, math.Float32frombits(b[0]), math.Float32frombits(b[1]))
			}
		}
		t[j] = [2]float32{h, l}
	}
	return t
}()

// mulFF multiplies two float-float numbers.
func mulFF(ah, al, bh, bl float32) (h, l float32) {
	p, e := twoProd(ah, bh)
	e += float32(ah*bl) + float32(al*bh)
	h = p + e
	l = e - (h - p)
	return h, l
}

// ln2/64 in four parts, each rounded to nearest from what the previous left:
// the first three have at most 10 significant bits, so k times each is exact
// for |k| < 2^14; the last holds the rest (ln2/64 to about 2^-77).
const (
	expInvL = float32(92.33248261689366) // 64/ln2
	expL1   = float32(0x1.63p-07)
	expL2   = float32(-0x1.bdp-19)
	expL3   = float32(-0x1.06p-35)
	expL4   = float32(0x1.cf79acp-46)
)

// Exp32 is e^x rounded to float32 (as C's expf gives it, to about 2^-44 of
// the exact value before rounding, so the rounding goes the same way in all
// but about one case in 2^20), built from float32 add, subtract and multiply
// only, so that every machine computes the same bits. Results below
// 2^-125 (x < -86.6) are 0: in the softmax they weigh nothing next to the
// maximum's 1. x = k*ln2/64 + r, |r| <= ln2/128, with 2^(k/64) from expTable
// and e^r from its Taylor series to r^5; the sums that decide the last bits
// are carried in float-float.
func Exp32(x float32) float32 {
	if !(x >= -90) { // NaN or far below the range
		if x != x {
			return x
		}
		return 0
	}
	if x > 89 {
		return float32(math.Inf(1))
	}
	k := float32(math.RoundToEven(float64(float32(x * expInvL))))
	t1 := x - float32(k*expL1) // exact (Sterbenz)
	a, e := twoSum(t1, -float32(k*expL2))
	rl := (e - float32(k*expL3)) - float32(k*expL4)
	// e^r - 1 = a + a²/2 + a³(1/6 + a/24 + a²/120) + rl(1 + a), a²/2 exactly.
	sq, sqe := twoProd(a, a)
	h := float32(a*(1.0/120)) + 1.0/24
	h = float32(a*h) + 1.0/6
	small := float32(0.5*sqe) + float32(float32(sq*a)*h)
	small = small + (rl + float32(a*rl))
	ki := int32(k)
	tab := expTable[ki&63]
	th, tlo := tab[0], tab[1]
	ph, pl := twoProd(th, a)
	qh, ql := twoProd(th, float32(0.5*sq))
	c := ((pl + ql) + float32(th*small)) + (tlo + float32(tlo*a))
	s1, e1 := twoSum(th, ph)
	s2, e2 := twoSum(s1, qh)
	y := s2 + ((e1 + e2) + c)
	m := ki >> 6
	if m < -125 {
		return 0
	}
	if m > 127 {
		return float32(y*0x1p127) * 2
	}
	return float32(y * math.Float32frombits(uint32(m+127)<<23))
}

// Tanh32 is tanh(x) from float32 add, subtract, multiply and correctly
// rounded division: the odd Taylor series to x¹¹ below 1/8, else
// (1-e)/(1+e) with e = Exp32(-2|x|). Within 4 ulps of tanh.
func Tanh32(x float32) float32 {
	a := float32(math.Abs(float64(x)))
	if a < 0.125 {
		x2 := float32(x * x)
		p := float32(x2*(-1382.0/155925)) + 62.0/2835
		p = float32(x2*p) - 17.0/315
		p = float32(x2*p) + 2.0/15
		p = float32(x2*p) - 1.0/3
		return x + float32(float32(x*x2)*p)
	}
	e := Exp32(-2 * a)
	t := (1 - e) / (1 + e)
	if x < 0 {
		return -t
	}
	return t
}
