package kernels

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"unsafe"
)

// The assembly finds expConsts' parts at the offsets it names.
func TestExpConstsLayout(t *testing.T) {
	var c expConsts
	if o := [...]uintptr{unsafe.Offsetof(c.hi), unsafe.Offsetof(c.lo), unsafe.Offsetof(c.f), unsafe.Offsetof(c.i)}; o != [...]uintptr{0, 256, 512, 576} {
		t.Fatalf("expConsts offsets %v, the assembly's 0, 256, 512, 576", o)
	}
}

// exp32s sets dst[i] = Exp32(src[i]), sixteen at a time with AVX-512.
func exp32s(dst, src []float32) {
	dst = dst[:len(src)]
	if hasAVX512 && len(src) > 0 {
		exp32AVX512(&dst[0], &src[0], len(src), expVec)
		return
	}
	for i, x := range src {
		dst[i] = Exp32(x)
	}
}

// sameExp32 checks exp32s against Exp32, bit for bit, on xs; the outputs
// are poisoned first and what lies past len(xs) must stay poisoned.
func sameExp32(t *testing.T, xs []float32) {
	t.Helper()
	got := make([]float32, len(xs)+3)
	poisonFloats(got)
	exp32s(got[:len(xs)], xs)
	for i, x := range xs {
		if want := Exp32(x); math.Float32bits(got[i]) != math.Float32bits(want) {
			t.Fatalf("Exp32(%g = %#x): %g (%#x), Go %g (%#x)", x, math.Float32bits(x), got[i], math.Float32bits(got[i]), want, math.Float32bits(want))
		}
	}
	for i := len(xs); i < len(got); i++ {
		if !math.IsNaN(float64(got[i])) {
			t.Fatalf("exp32s of %d wrote [%d]", len(xs), i)
		}
	}
}

// ulpsAround is the float32s within n steps of x.
func ulpsAround(x float32, n int) []float32 {
	var v []float32
	u := int64(math.Float32bits(x))
	for d := -n; d <= n; d++ {
		if b := u + int64(d); b >= 0 && b <= math.MaxUint32 {
			v = append(v, math.Float32frombits(uint32(b)))
		}
	}
	return v
}

// The sixteen-lane Exp32 gives Exp32's bits: on random arguments, random bit
// patterns, every length up to 40 (the tails), the edges of the special
// cases (-90, 89, where m leaves [-125, 127], the overflow) and around the
// table points k·ln2/64 and the halfway points of k's rounding.
func TestExp32AVX512(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(23, 24))
	var xs []float32
	for range 200000 {
		xs = append(xs, float32(rng.Float64()*200-100))
		xs = append(xs, math.Float32frombits(rng.Uint32()))
		xs = append(xs, float32(rng.NormFloat64()*math.Exp2(float64(rng.IntN(40)-30))))
	}
	nan := float32(math.NaN())
	for _, b := range []uint32{0x7fc00000, 0xffc00000, 0x7f800001, 0xff812345, 0x7fffffff, 0x00000001, 0x80000001, 0x007fffff} {
		xs = append(xs, math.Float32frombits(b))
	}
	xs = append(xs, 0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), nan,
		math.MaxFloat32, -math.MaxFloat32)
	// -90 and 89; m = -125/-126 (k = -8000/-8001) and 127/128 (k = 8191/8192);
	// e^x's overflow (ln 2^128) and where 2^-125 is (the last nonzero).
	for _, e := range []float32{-90, 89, -8000.5 / expInvL, 8191.5 / expInvL, 88.72284, -86.64340, -86.64} {
		xs = append(xs, ulpsAround(e, 3000)...)
	}
	for k := -8320; k <= 8320; k++ {
		x := float32(float64(k) * math.Ln2 / 64)
		xs = append(xs, ulpsAround(x, 2)...)
		xs = append(xs, ulpsAround(float32((float64(k)+0.5)*math.Ln2/64), 2)...)
	}
	sameExp32(t, xs)
	for n := 1; n <= 40; n++ {
		sameExp32(t, xs[n*100:n*101])
	}
	// a stride through every bit pattern; CONVEYOR_EXP32_ALL=1 takes them all
	step := uint64(7919)
	if os.Getenv("CONVEYOR_EXP32_ALL") == "1" {
		step = 1
	}
	buf := make([]float32, 0, 1<<16)
	for u := uint64(0); u < 1<<32; u += step {
		buf = append(buf, math.Float32frombits(uint32(u)))
		if len(buf) == cap(buf) {
			sameExp32(t, buf)
			buf = buf[:0]
		}
	}
	sameExp32(t, buf)
}

// FlashWeights (the assembly's factors and the sum after them) gives
// flashWeights' bits on score rows of awkward lengths: random, rising (a new
// maximum at every key), falling, ties of signed zeros, runs of equal values,
// NaN and infinite scores, scores far apart, with and without a soft cap.
// The outputs are poisoned first and what lies past the row must stay so.
func TestFlashWeightsMatchesTwin(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	negZero := float32(math.Copysign(0, -1))
	inf := float32(math.Inf(1))
	rows := []struct {
		name string
		row  func(n int) []float32
	}{
		{"normal", func(n int) []float32 {
			return normals(rng, n, 20)
		}},
		{"rising", func(n int) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(i)*0.37 - 40
			}
			return v
		}},
		{"falling", func(n int) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = 50 - float32(i)*0.8
			}
			return v
		}},
		{"ties", func(n int) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = [...]float32{0, negZero, 1, -1, 3, 3}[rng.IntN(6)]
			}
			return v
		}},
		{"specials", func(n int) []float32 {
			v := normals(rng, n, 8)
			for i := range v {
				switch rng.IntN(10) {
				case 0:
					v[i] = float32(math.NaN())
				case 1:
					v[i] = inf
				case 2:
					v[i] = -inf
				case 3:
					v[i] = math.Float32frombits(0x7fc00000 | rng.Uint32()&0x3fffff)
				}
			}
			return v
		}},
		{"wide", func(n int) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(24))))
			}
			return v
		}},
		{"low", func(n int) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = -inf
				if rng.IntN(3) == 0 {
					v[i] = float32(rng.NormFloat64())
				}
			}
			return v
		}},
	}
	for _, r := range rows {
		name, row := r.name, r.row
		for _, n := range []int{1, 2, 15, 16, 17, 31, 32, 33, 100, 300, 513} {
			for _, c := range []struct{ scale, softCap float32 }{{0.125, 0}, {1, 0}, {0.088388346, 0}, {0.0625, 30}, {1, 5}} {
				scores := row(n)
				msW, vsW := make([]float32, n+5), make([]float32, n+5)
				msG, vsG := make([]float32, n+5), make([]float32, n+5)
				for _, v := range [][]float32{msW, vsW, msG, vsG} {
					poisonFloats(v)
				}
				want := flashWeights(msW[:n], vsW[:n], scores, c.scale, c.softCap)
				got := FlashWeights(msG[:n], vsG[:n], scores, c.scale, c.softCap)
				sameBits(t, name+" ms", msG, msW)
				sameBits(t, name+" vs", vsG, vsW)
				if math.Float32bits(got) != math.Float32bits(want) {
					t.Fatalf("%s n %d %+v: sum %g (%#x), twin %g (%#x)", name, n, c, got, math.Float32bits(got), want, math.Float32bits(want))
				}
			}
		}
	}
}

// normals is n normal values of standard deviation sd.
func normals(rng *rand.Rand, n int, sd float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * sd)
	}
	return v
}

// BenchmarkFlashWeights is one query's softmax factors over 512 keys, scores
// as an F16 q·k of a 64-wide head gives them, scaled by 1/8; ns/score is
// the time per key.
func BenchmarkFlashWeights(b *testing.B) {
	const n = 512
	rng := rand.New(rand.NewPCG(21, 22))
	scores := make([]float32, n)
	for i := range scores {
		scores[i] = float32(rng.NormFloat64() * 16)
	}
	ms, vs := make([]float32, n), make([]float32, n)
	b.ResetTimer()
	for range b.N {
		FlashWeights(ms, vs, scores, 0.125, 0)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/score")
}
