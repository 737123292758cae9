package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// randomBlocks is n blocks of typ with random quants (every byte value) and
// random finite scales.
func randomBlocks(rng *rand.Rand, typ gguf.Type, n int) []byte {
	size := typ.RowBytes(32)
	b := make([]byte, n*size)
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	for i := 0; i < n; i++ {
		putF16(b[i*size:], float32(rng.NormFloat64()*0.05))
	}
	return b
}

// The quantized cache's scores (AVX-512 where the machine has it) give the
// Go twin's bits (Format.Dot), for heads of 1 to 5 blocks and keys at a
// stride past their head.
func TestQuantAttnKernelsMatchTwins(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, typ := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ4_0} {
		f, _ := FormatOf(typ)
		for _, nb := range []int{1, 2, 3, 5} {
			hd, nt := 32*nb, 7
			stride := typ.RowBytes(hd) + 6
			k := randomBlocks(rng, typ, (nt*stride)/typ.RowBytes(32)+1)
			q8 := randomBlocks(rng, gguf.TypeQ8_0, nb)
			got, want := make([]float32, nt), make([]float32, nt)
			quantScores(got, f, k, stride, q8, hd)
			quantScoresGo(want, f, k, stride, q8, hd)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%v scores, %d blocks, key %d: %v, the twin %v", typ, nb, i, got[i], want[i])
				}
			}
		}
	}
}

// accumulateQuant (AVX-512 where the machine has it, converting in
// registers) gives its Go twin's bits for Q8_0 and Q4_0 values.
func TestAccumulateQuantMatchesTwin(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, typ := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ4_0} {
		f, _ := FormatOf(typ)
		for _, nb := range []int{1, 2, 3, 4} {
			hd, nt := 32*nb, 11
			stride := typ.RowBytes(hd) + 10
			v := randomBlocks(rng, typ, (nt*stride)/typ.RowBytes(32)+1)
			ms, vs := make([]float32, nt), make([]float32, nt)
			for i := range ms {
				ms[i], vs[i] = 1, float32(rng.Float64())
				if rng.IntN(3) == 0 {
					ms[i] = float32(rng.Float64())
				}
			}
			ms[0] = 0
			got, want := make([]float32, hd), make([]float32, hd)
			accumulateQuant(f, got, ms, vs, v, stride, make([]float32, hd))
			accumulateQuantGo(f, want, ms, vs, v, stride, make([]float32, hd))
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%v, %d blocks, value %d: %v, the twin %v", typ, nb, i, got[i], want[i])
				}
			}
		}
	}
}
