package kernels

import (
	"math"
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
