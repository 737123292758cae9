package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randF16s is n random F16 values (as float32) of about magnitude scale.
func randF16s(rng *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = roundF16(float32(rng.NormFloat64() * scale))
	}
	return v
}

// The assembly flash kernels give their twins' bits, outputs poisoned first.
func TestFlashKernelsMatchTwins(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, hd := range []int{8, 16, 48, 64, 80, 128, 256} {
		for _, nt := range []int{1, 2, 5, 33, 130} {
			stride := hd + rng.IntN(3)*16
			q := randF16s(rng, hd, 1)
			k := randF16s(rng, nt*stride, 1)
			v := randF16s(rng, nt*stride, 1)
			want, got := make([]float32, nt), make([]float32, nt)
			poisonFloats(want)
			poisonFloats(got)
			attnScoresF16(want, q, k, stride)
			AttnScoresF16(got, q, k, stride)
			sameBits(t, "AttnScoresF16", got, want)

			ms, vs := make([]float32, nt), make([]float32, nt)
			FlashWeights(ms, vs, want, 0.125, 0)
			if nt > 2 {
				ms[2] = float32(math.NaN()) // a NaN factor rescales too
			}
			accWant, accGot := make([]float32, hd), make([]float32, hd)
			poisonFloats(accWant)
			poisonFloats(accGot)
			clear(accWant)
			attnAccumulateF16(accWant, ms, vs, v, stride)
			AttnAccumulateF16(accGot, ms, vs, v, stride)
			sameBits(t, "AttnAccumulateF16", accGot, accWant)
		}
	}
}

// The scores are F16 dot products summed in ggml_vec_dot_f16's order: the
// products are exact, so any order gives the float64 sum to a few ulps of
// float32 (tolerance 4 ulps of the sum of magnitudes).
func TestAttnScoresF16IsTheDotProduct(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, hd := range []int{8, 64, 96, 128} {
		q := randF16s(rng, hd, 1)
		k := randF16s(rng, 9*hd, 1)
		got := make([]float32, 9)
		AttnScoresF16(got, q, k, hd)
		for tk := range got {
			var sum, mag float64
			for d := 0; d < hd; d++ {
				p := float64(q[d]) * float64(k[tk*hd+d])
				sum += p
				mag += math.Abs(p)
			}
			if math.Abs(float64(got[tk])-sum) > 4*mag*0x1p-24 {
				t.Fatalf("hd %d key %d: %g, want %g", hd, tk, got[tk], sum)
			}
		}
	}
}

// AttnFlashF16 is softmax attention: against a float64 reference the error is
// the F16 accumulator's, rounded after every key: a few F16 half-ulps
// (2^-11 relative each) of the largest value, so 2e-3 of the output's scale.
func TestAttnFlashF16IsAttention(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, c := range []struct {
		hd, nt  int
		softCap float32
	}{{64, 1, 0}, {64, 40, 0}, {8, 17, 0}, {128, 100, 0}, {64, 30, 5}} {
		q := randF16s(rng, c.hd, 1)
		k := randF16s(rng, c.nt*c.hd, 1)
		v := randF16s(rng, c.nt*c.hd, 1)
		scale := float32(1 / math.Sqrt(float64(c.hd)))
		out := make([]float32, c.hd)
		poisonFloats(out)
		scratch := make([]float32, 3*c.nt)
		AttnFlashF16(out, q, k, c.hd, v, c.hd, c.nt, scale, c.softCap, scratch[:c.nt], scratch[c.nt:2*c.nt], scratch[2*c.nt:])

		w := make([]float64, c.nt)
		mx := math.Inf(-1)
		for tk := range w {
			var s float64
			for d := 0; d < c.hd; d++ {
				s += float64(q[d]) * float64(k[tk*c.hd+d])
			}
			s *= float64(scale)
			if c.softCap > 0 {
				s = float64(c.softCap) * math.Tanh(s/float64(c.softCap))
			}
			w[tk] = s
			mx = math.Max(mx, s)
		}
		var sum float64
		for tk := range w {
			w[tk] = math.Exp(w[tk] - mx)
			sum += w[tk]
		}
		for d := 0; d < c.hd; d++ {
			var want float64
			for tk := range w {
				want += w[tk] / sum * float64(v[tk*c.hd+d])
			}
			if math.Abs(float64(out[d])-want) > 2e-3*3 {
				t.Fatalf("%+v: out[%d] = %g, want %g", c, d, out[d], want)
			}
		}
	}
}

// The expBase bits are 2^(2^i/64) rounded to float32 and the rest rounded.
func TestExpBase(t *testing.T) {
	for i, b := range expBase {
		x := math.Exp2(float64(int(1)<<i) / 64)
		hi := float32(x)
		lo := float32(x - float64(hi))
		if b[0] != math.Float32bits(hi) || b[1] != math.Float32bits(lo) {
			t.Errorf("expBase[%d] = %#x %#x, want %#x %#x", i, b[0], b[1], math.Float32bits(hi), math.Float32bits(lo))
		}
	}
	for j, e := range expTable {
		want := math.Exp2(float64(j) / 64)
		if err := math.Abs(float64(e[0])+float64(e[1])-want) / want; err > 0x1p-43 {
			t.Errorf("expTable[%d] is %g off", j, err)
		}
	}
}

// Exp32 is the correctly rounded e^x in all but a handful of a million
// random arguments (where it is one ulp off), 0 below -86.6 and at -Inf.
func TestExp32(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	off := 0
	const n = 1000000
	for i := 0; i < n; i++ {
		x := float32(-rng.Float64() * 86)
		switch i % 4 {
		case 0:
			x = float32(-rng.Float64() * 2)
		case 1:
			x = float32(rng.Float64() * 88)
		}
		got, want := Exp32(x), float32(math.Exp(float64(x)))
		if got != want {
			off++
			if d := int64(math.Float32bits(got)) - int64(math.Float32bits(want)); d > 1 || d < -1 {
				t.Fatalf("Exp32(%g) = %g, want %g", x, got, want)
			}
		}
	}
	if off > n/100000 {
		t.Errorf("Exp32 is one ulp off in %d of %d arguments", off, n)
	}
	for _, c := range []struct{ x, want float32 }{
		{0, 1}, {float32(math.Inf(-1)), 0}, {-87, 0}, {-200, 0}, {100, float32(math.Inf(1))},
	} {
		if got := Exp32(c.x); got != c.want {
			t.Errorf("Exp32(%g) = %g, want %g", c.x, got, c.want)
		}
	}
	if got := Exp32(float32(math.NaN())); got == got {
		t.Errorf("Exp32(NaN) = %g", got)
	}
}

// Tanh32 is within 4 ulps of tanh (its worst is 3.5, where the series gives
// way to (1-e)/(1+e) and 1-e cancels) and odd.
func TestTanh32(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for i := 0; i < 200000; i++ {
		x := float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(12)-8)))
		got, want := Tanh32(x), math.Tanh(float64(x))
		ulp := float64(math.Nextafter32(float32(math.Abs(want)), 2)) - float64(float32(math.Abs(want)))
		if math.Abs(float64(got)-want) > 4*ulp {
			t.Fatalf("Tanh32(%g) = %g, want %g", x, got, want)
		}
		if Tanh32(-x) != -got {
			t.Fatalf("Tanh32(-%g) = %g, not -%g", x, Tanh32(-x), got)
		}
	}
}
