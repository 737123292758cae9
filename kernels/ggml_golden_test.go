package kernels

import (
	"math"
	"testing"
)

// Golden outputs of llama.cpp's own CPU build (the prebuilt node-llama-cpp
// 3.22.1, Sapphire Rapids variant, its exported ggml_vec_dot_f16 and
// ggml_vec_swiglu_f32 called on these inputs after ggml_cpu_init), which
// AttnScoresF16 and SwiGLU must reproduce bit for bit. The inputs come from
// goldenLCG, a fixed sequence.

// goldenLCG is a 64-bit linear congruential sequence; its values must never
// change, or the golden outputs below lose their meaning.
type goldenLCG uint64

func (s *goldenLCG) next() uint32 {
	*s = *s*6364136223846793005 + 1442695040888963407
	return uint32(*s >> 33)
}

func goldenSwiGLUInputs(s *goldenLCG) (x, g []float32) {
	for i := 0; i < 37; i++ {
		x = append(x, float32(int(s.next()%20001)-10000)/1000)
		g = append(g, float32(int(s.next()%20001)-10000)/5000)
	}
	x[7], x[33] = -95, 100
	return x, g
}

func goldenF16Inputs(s *goldenLCG, hd, nt int) (q, k []float32) {
	f16 := func() float32 {
		v := s.next()
		return F16ToF32(uint16(v&0x8000 | (10+v>>16%11)<<10 | v>>4&0x3ff))
	}
	for i := 0; i < hd; i++ {
		q = append(q, f16())
	}
	for i := 0; i < hd*nt; i++ {
		k = append(k, f16())
	}
	return q, k
}

func TestAttnScoresF16MatchesGGML(t *testing.T) {
	var s goldenLCG = 1
	goldenSwiGLUInputs(&s) // the sequence continues past TestSwiGLUMatchesGGML's inputs
	for _, c := range []struct {
		hd   int
		want []uint32
	}{
		{80, []uint32{0x4521005d, 0x450aaa75, 0xc4acd6ee, 0xc4e9d7e4}}, // 64 in the tree, 16 after
		{8, []uint32{0x43a032dc, 0xc1270062, 0xc3b48b39, 0x43628ab4}},  // all after
	} {
		q, k := goldenF16Inputs(&s, c.hd, len(c.want))
		got := make([]float32, len(c.want))
		poisonFloats(got)
		AttnScoresF16(got, q, k, c.hd)
		for i, w := range c.want {
			if math.Float32bits(got[i]) != w {
				t.Errorf("head dim %d, key %d: %g (%#x), llama.cpp %g (%#x)", c.hd, i, got[i], math.Float32bits(got[i]), math.Float32frombits(w), w)
			}
		}
	}
}
