package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// axpyF32 and scaleF32 (AVX-512 where the machine has it) give their Go
// twins' bits at lengths around the 16-value vectors.
func TestAxpyScaleMatchTwins(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 15, 16, 17, 32, 96, 131} {
		x, acc := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], acc[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64()*5)
		}
		w := float32(rng.Float64())
		got, want := append([]float32(nil), acc...), append([]float32(nil), acc...)
		axpyF32(got, x, w)
		axpyF32Go(want, x, w)
		scaleF32(got, w)
		scaleF32Go(want, w)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n %d, value %d: %v, the twin %v", n, i, got[i], want[i])
			}
		}
	}
}

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

// The quantized cache's scores and conversions (AVX-512 where the machine
// has it) give the Go twins' bits (Format.Dot and Dequantize), for heads of
// 1 to 5 blocks and keys at a stride past their head.
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
			row, ref := make([]float32, nt*hd), make([]float32, nt*hd)
			quantDequantize(f, row, k, stride, nt, hd)
			quantDequantizeGo(f, ref, k, stride, nt, hd)
			for i := range ref {
				if math.Float32bits(row[i]) != math.Float32bits(ref[i]) {
					t.Fatalf("%v dequantize, %d blocks, value %d: %v, the twin %v", typ, nb, i, row[i], ref[i])
				}
			}
		}
	}
}

// accumulateF32 (AVX-512 where the machine has it) gives its Go twin's bits,
// new maxima (ms != 1) and NaN factors included.
func TestAccumulateF32MatchesTwin(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, hd := range []int{16, 64, 96, 40} {
		nt, stride := 9, hd+16
		v := make([]float32, nt*stride)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		ms, vs := make([]float32, nt), make([]float32, nt)
		for i := range ms {
			ms[i], vs[i] = 1, float32(rng.Float64())
			if rng.IntN(3) == 0 {
				ms[i] = float32(rng.Float64())
			}
		}
		ms[0], ms[5] = 0, float32(math.NaN())
		got, want := make([]float32, hd), make([]float32, hd)
		accumulateF32(got, ms, vs, v, stride)
		accumulateF32Go(want, ms, vs, v, stride)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("hd %d, value %d: %v, the twin %v", hd, i, got[i], want[i])
			}
		}
	}
}
