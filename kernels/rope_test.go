package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ropeInputs returns n values mixing ordinary ones with the edges of float32:
// huge (products overflow), tiny and subnormal (products underflow), ±0, ±Inf,
// NaN and any bits at all.
func ropeInputs(rng *rand.Rand, n int) []float32 {
	edges := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.MaxFloat32, -math.MaxFloat32, 1e30, -3e35, 1e-40, -1e-45, math.SmallestNonzeroFloat32, 1.1754944e-38, 1, -1}
	x := make([]float32, n)
	for i := range x {
		switch rng.IntN(8) {
		case 0:
			x[i] = edges[rng.IntN(len(edges))]
		case 1:
			x[i] = math.Float32frombits(rng.Uint32())
		case 2:
			x[i] = float32(rng.NormFloat64() * math.Pow(2, float64(rng.IntN(250)-125)))
		default:
			x[i] = float32(rng.NormFloat64())
		}
	}
	return x
}

// ropeAnglesFor returns n cosines and sines of angles as RoPE has them, with
// some edge values mixed in (the kernels must not care what they are).
func ropeAnglesFor(rng *rand.Rand, n int) (cos, sin []float32) {
	cos, sin = make([]float32, n), make([]float32, n)
	edge := ropeInputs(rng, n)
	for i := range cos {
		t := rng.Float64() * 1000
		cos[i], sin[i] = float32(math.Cos(t)), float32(math.Sin(t))
		if rng.IntN(6) == 0 {
			cos[i] = edge[i]
		}
		if rng.IntN(6) == 0 {
			sin[i] = edge[rng.IntN(n)]
		}
	}
	return cos, sin
}

type rotateVariant struct {
	name   string
	halves func(lo, hi, cos, sin []float32)
	pairs  func(head, cos, sin []float32)
	ok     bool
}

// TestRotateVariantsMatchTwin runs every vector variant this machine can
// run, and the exported functions with their tails, bit for bit against the
// Go twins (NaNs of any payload count as equal). The rotation is in place,
// so the outputs cannot be poisoned: they start as the inputs, which the
// random angles move, so an output left unwritten shows as a mismatch; the
// values past the rotated span must stay as they were.
func TestRotateVariantsMatchTwin(t *testing.T) {
	variants := append(rotateVariants(), rotateVariant{"selected", rotateHalvesVector, rotatePairsVector, true})
	rng := rand.New(rand.NewPCG(31, 32))
	for _, v := range variants {
		if !v.ok {
			t.Logf("%s: not on this CPU", v.name)
			continue
		}
		for _, n := range []int{8, 16, 24, 32, 40, 64, 72, 256} {
			for trial := 0; trial < 20; trial++ {
				cos, sin := ropeAnglesFor(rng, n)
				x := ropeInputs(rng, 2*n+3)
				got, want := append([]float32(nil), x...), append([]float32(nil), x...)
				v.halves(got[:n], got[n:2*n], cos, sin)
				rotateHalvesGo(want[:n], want[n:2*n], cos, sin)
				checkSameFloats(t, v.name+" halves", n, x, got, want)
				got, want = append(got[:0], x...), append(want[:0], x...)
				v.pairs(got[:2*n], cos, sin)
				rotatePairsGo(want[:2*n], cos, sin)
				checkSameFloats(t, v.name+" pairs", n, x, got, want)
			}
		}
	}
	for n := 1; n < 70; n++ {
		cos, sin := ropeAnglesFor(rng, n)
		x := ropeInputs(rng, 2*n+5)
		got, want := append([]float32(nil), x...), append([]float32(nil), x...)
		RotateHalves(got, cos, sin)
		rotateHalvesGo(want[:n], want[n:2*n], cos, sin)
		checkSameFloats(t, "RotateHalves", n, x, got, want)
		got, want = append(got[:0], x...), append(want[:0], x...)
		RotatePairs(got, cos, sin)
		rotatePairsGo(want[:2*n], cos, sin)
		checkSameFloats(t, "RotatePairs", n, x, got, want)
	}
}

func checkSameFloats(t *testing.T, name string, n int, x, got, want []float32) {
	t.Helper()
	for i := range want {
		if !sameFloat(got[i], want[i]) {
			t.Fatalf("%s, %d pairs: value %d from %g (%#x): got %g (%#x), want %g (%#x)", name, n, i,
				x[i], math.Float32bits(x[i]), got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// BenchmarkRotate rotates the 12 heads of 64 of a 110M-shape model's rows
// (one RoPE of a 64-token prefill's queries) with each variant, in CPU time.
func BenchmarkRotate(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const rows, heads, pairs = 64, 12, 32
	x := randFloats(rng, rows*heads*2*pairs, -4, 4)
	cos, sin := ropeAnglesFor(rng, pairs)
	for i := range cos {
		t := rng.Float64() * 100
		cos[i], sin[i] = float32(math.Cos(t)), float32(math.Sin(t))
	}
	for _, v := range append([]rotateVariant{{"twin", rotateHalvesGo, rotatePairsGo, true}}, rotateVariants()...) {
		if !v.ok {
			continue
		}
		for _, mode := range []string{"halves", "pairs"} {
			b.Run(v.name+"/"+mode, func(b *testing.B) {
				b.SetBytes(int64(len(x) * 4))
				start := processCPU()
				for i := 0; i < b.N; i++ {
					for h := 0; h < rows*heads; h++ {
						head := x[h*2*pairs : (h+1)*2*pairs]
						if mode == "halves" {
							v.halves(head[:pairs], head[pairs:], cos, sin)
						} else {
							v.pairs(head, cos, sin)
						}
					}
				}
				reportCPU(b, start)
			})
		}
	}
}
