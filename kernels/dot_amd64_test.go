package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/conveyor-llm/conveyor/gguf"
)

// randBlocks returns nb blocks of size bytes: random bytes, with a finite
// random fp16 scale in each block's first two bytes. extreme biases the
// quants toward -128, 127 and 0.
func randBlocks(rng *rand.Rand, nb, size int, extreme bool) []byte {
	b := make([]byte, nb*size)
	for i := range b {
		b[i] = byte(rng.Uint32())
		if extreme {
			b[i] = []byte{0x80, 0x7f, 0, 0xff, 0x88, 0x0f, 0xf0}[rng.IntN(7)]
		}
	}
	for i := 0; i < nb; i++ {
		// exponent 1..30 (finite, normal) or 0 (subnormal), any sign.
		h := uint16(rng.Uint32()) &^ (0x1f << 10)
		h |= uint16(rng.IntN(31)) << 10
		b[i*size], b[i*size+1] = byte(h), byte(h>>8)
	}
	return b
}

func sameFloat(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (math.IsNaN(float64(a)) && math.IsNaN(float64(b)))
}

type dotKernel struct {
	name   string
	ok     bool
	k      blockDot
	twin   func(w, a []byte, n int) float32
	wBlock int
}

func dotKernels() []dotKernel {
	return []dotKernel{
		{"Q4_0/VNNI", hasVNNI, dotQ4_0VNNI, dotQ4_0, blockQ4_0},
		{"Q8_0/VNNI", hasVNNI, dotQ8_0VNNI, dotQ8_0, blockQ8_0},
		{"Q4_0/AVX2", hasAVX2, dotQ4_0AVX2, dotQ4_0, blockQ4_0},
		{"Q8_0/AVX2", hasAVX2, dotQ8_0AVX2, dotQ8_0, blockQ8_0},
	}
}

func TestAsmDotsMatchTwins(t *testing.T) {
	for _, kt := range dotKernels() {
		t.Run(kt.name, func(t *testing.T) {
			if !kt.ok {
				t.Skip("CPU lacks the features")
			}
			rng := rand.New(rand.NewPCG(7, uint64(kt.wBlock)))
			dot := asmDot(kt.k, kt.wBlock)
			for iter := 0; iter < 3000; iter++ {
				nb := []int{0, 1, 2, 3, 8, 64, 176}[iter%7]
				extreme := iter%3 == 0
				w := randBlocks(rng, nb, kt.wBlock, extreme)
				a := randBlocks(rng, nb, blockQ8_0, extreme && iter%2 == 0)
				got, want := dot(w, a, nb*32), kt.twin(w, a, nb*32)
				if !sameFloat(got, want) {
					t.Fatalf("iter %d, %d blocks: got %g (%#x), want %g (%#x)", iter, nb, got, math.Float32bits(got), want, math.Float32bits(want))
				}
			}
		})
	}
}

// TestAsmDotsFromQuantized checks the kernels on real quantized rows, where
// the accumulators see large cancellations.
func TestAsmDotsFromQuantized(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, kt := range dotKernels() {
		if !kt.ok {
			continue
		}
		dot := asmDot(kt.k, kt.wBlock)
		for iter := 0; iter < 200; iter++ {
			n := 32 * (1 + rng.IntN(200))
			x, y := randFloats(rng, n, -1, 1), randFloats(rng, n, -3, 3)
			w := make([]byte, n/32*kt.wBlock)
			if kt.wBlock == blockQ4_0 {
				quantizeQ4_0(w, x)
			} else {
				quantizeQ8_0(w, x)
			}
			a := make([]byte, n/32*blockQ8_0)
			quantizeQ8_0Activations(a, y)
			if got, want := dot(w, a, n), kt.twin(w, a, n); !sameFloat(got, want) {
				t.Fatalf("%s: n=%d: got %g, want %g", kt.name, n, got, want)
			}
		}
	}
}

func benchAsmDot(b *testing.B, k blockDot, ok bool, wBlock int) {
	if !ok {
		b.Skip("CPU lacks the features")
	}
	const nb = 2048 / 32 * 64 // 64 rows of 2048: stays in cache
	rng := rand.New(rand.NewPCG(1, 1))
	w, a := randBlocks(rng, nb, wBlock, false), randBlocks(rng, nb, blockQ8_0, false)
	b.SetBytes(int64(nb * wBlock))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k(&w[0], &a[0], nb)
	}
}

func BenchmarkAsmDotQ4_0VNNI(b *testing.B) { benchAsmDot(b, dotQ4_0VNNI, hasVNNI, blockQ4_0) }
func BenchmarkAsmDotQ8_0VNNI(b *testing.B) { benchAsmDot(b, dotQ8_0VNNI, hasVNNI, blockQ8_0) }
func BenchmarkAsmDotQ4_0AVX2(b *testing.B) { benchAsmDot(b, dotQ4_0AVX2, hasAVX2, blockQ4_0) }
func BenchmarkAsmDotQ8_0AVX2(b *testing.B) { benchAsmDot(b, dotQ8_0AVX2, hasAVX2, blockQ8_0) }

func BenchmarkAsmDotQ4_0Go(b *testing.B) {
	benchAsmDot(b, func(w, a *byte, nb int) float32 {
		return dotQ4_0(unsafeBytes(w, nb*blockQ4_0), unsafeBytes(a, nb*blockQ8_0), nb*32)
	}, true, blockQ4_0)
}

func BenchmarkAsmDotQ8_0Go(b *testing.B) {
	benchAsmDot(b, func(w, a *byte, nb int) float32 {
		return dotQ8_0(unsafeBytes(w, nb*blockQ8_0), unsafeBytes(a, nb*blockQ8_0), nb*32)
	}, true, blockQ8_0)
}

func unsafeBytes(p *byte, n int) []byte { return unsafe.Slice(p, n) }

func TestTileKernelsChosen(t *testing.T) {
	if !hasVNNI {
		t.Skip("no AVX512-VNNI")
	}
	for _, typ := range []*Format{formats[gguf.TypeQ4_0], formats[gguf.TypeQ8_0]} {
		if _, ok := tileKernels[typ]; !ok {
			t.Errorf("no tile kernel for %v", typ.Type)
		}
	}
}
