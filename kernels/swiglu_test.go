package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSwiGLUMatchesGGML(t *testing.T) {
	want := []uint32{
		0x3cc82f07, 0x3eed1793, 0x3d302026, 0xbecf7bf9, 0x3e58840c, 0xb9a36b68, 0x3c196c93, 0x00000000,
		0xbfdeccd0, 0x3d4ba7fe, 0x40b67452, 0x3d366404, 0x3ee2b55e, 0x40003308, 0xc1254caf, 0x3e44f338,
		0xbd2f19ae, 0x40806aec, 0x41014fe6, 0xc0e4a7bf, 0x4113563d, 0x4078238f, 0xc0283a6a, 0xbbb90cb4,
		0xbcefd83a, 0xbf2bfd0e, 0x408bf1ff, 0xc09958e2, 0x3c5672d5, 0xc08b38e1, 0xc0c0f391, 0xba2ec77e,
		0x40358e18, 0xc337bd70, 0x3c8d6d4b, 0xbcfe78b0, 0xbca27eab, // 32 vector lanes, then 5 scalar
	}
	var s goldenLCG = 1
	x, g := goldenSwiGLUInputs(&s)
	out := make([]float32, len(x))
	poisonFloats(out)
	SwiGLU(out, x, g)
	for i, w := range want {
		if math.Float32bits(out[i]) != w {
			t.Errorf("SwiGLU(%g, %g) = %g (%#x), llama.cpp %g (%#x)", x[i], g[i], out[i], math.Float32bits(out[i]), math.Float32frombits(w), w)
		}
	}
}

// TestSwiGLUVectorMatchesTwin checks the assembly lanes against the Go twin
// bit for bit over every range of gate: ordinary values, |x| past 88 and 133
// (where ggml's exp overflows, underflows or goes subnormal), ±0, ±Inf, NaN.
func TestSwiGLUVectorMatchesTwin(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const n = 4096
	gate, up := make([]float32, n), make([]float32, n)
	for i := range gate {
		switch i % 8 {
		case 0:
			gate[i] = float32(rng.NormFloat64() * 4)
		case 1:
			gate[i] = float32(rng.Float64()*400 - 200)
		case 2:
			gate[i] = math.Float32frombits(rng.Uint32()) // any bits: NaN, Inf, subnormal
		case 3:
			gate[i] = []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), 88.7, -88.7, 103.97, -103.97, 133, -133, 192 * 0.6931472, -192 * 0.6931472}[rng.IntN(12)]
		default:
			gate[i] = float32(rng.NormFloat64())
		}
		up[i] = float32(rng.NormFloat64())
	}
	got, want := make([]float32, n), make([]float32, n)
	poisonFloats(got)
	swigluVector(got, gate, up)
	swigluVectorGo(want, gate, up)
	for i := range got {
		if !sameFloat(got[i], want[i]) {
			t.Fatalf("gate %g (%#x), up %g: got %g (%#x), want %g (%#x)", gate[i], math.Float32bits(gate[i]), up[i],
				got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

func BenchmarkSwiGLU(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	gate, up, out := randFloats(rng, 5632, -8, 8), randFloats(rng, 5632, -2, 2), make([]float32, 5632)
	b.SetBytes(5632 * 4)
	for i := 0; i < b.N; i++ {
		SwiGLU(out, gate, up)
	}
}
