package kernels

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// fma32Exact is x*y+z rounded once to float32, through exact big.Float
// arithmetic.
func fma32Exact(x, y, z float32) float32 {
	bx, by, bz := new(big.Float).SetFloat64(float64(x)), new(big.Float).SetFloat64(float64(y)), new(big.Float).SetFloat64(float64(z))
	p := new(big.Float).SetPrec(200).Mul(bx, by)
	s := new(big.Float).SetPrec(400).Add(p, bz)
	f, _ := s.Float32()
	if f == 0 {
		// big.Float has no signed zero from a sum; IEEE gives +0 unless
		// both addends are -0 (not generated here).
		return 0
	}
	return f
}

func TestFMA32RoundsOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(x, y, z float32) {
		t.Helper()
		got, want := fma32(x, y, z), fma32Exact(x, y, z)
		if math.Float32bits(got) != math.Float32bits(want) && !(got == 0 && want == 0) {
			t.Fatalf("fma32(%g, %g, %g) = %g (%#x), want %g (%#x)", x, y, z, got, math.Float32bits(got), want, math.Float32bits(want))
		}
	}
	for i := 0; i < 200000; i++ {
		x := float32(rng.NormFloat64())
		y := float32(rng.IntN(1<<17) - 1<<16)
		z := float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(40)-10)))
		check(x, y, z)
		// Near-cancellation and near-ties: z close to -x*y.
		check(x, y, -float32(float64(x)*float64(y))*(1+float32(rng.IntN(5)-2)*0x1p-24))
		// Products needing more than 48 bits to sit on a float32 tie.
		xb := math.Float32frombits(0x3f800000 | uint32(rng.IntN(1<<23)))
		yb := math.Float32frombits(0x3f800000 | uint32(rng.IntN(1<<23)))
		check(xb, yb, math.Float32frombits(0x3f800000|uint32(rng.IntN(1<<23)))*0x1p-30)
	}
	// Double rounding: the exact value 1 + 2^-23 + 2^-24 - 2^-70 lies just
	// below a float32 tie; float64 rounds it onto the tie, which float32 would
	// then break upward.
	check(0x1p-24*(1+0x1p-23), 1-0x1p-23, 1+0x1p-23)
	check(-0x1p-24*(1+0x1p-23), 1-0x1p-23, -1-0x1p-23)
}
