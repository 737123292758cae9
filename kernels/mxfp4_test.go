package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// An MXFP4 block decodes as the format defines it: FP4(code) * 2^(e-127).
func TestMXFP4DecodesE2M1TimesE8M0(t *testing.T) {
	fp4 := []float64{0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6}
	for _, e := range []uint8{1, 100, 127, 130, 200} {
		b := make([]byte, blockMXFP4)
		b[0] = e
		for j := 0; j < 16; j++ {
			b[1+j] = uint8(j) | uint8(15-j)<<4
		}
		out := make([]float32, 32)
		dequantizeMXFP4(out, b)
		for j := 0; j < 16; j++ {
			scale := math.Ldexp(1, int(e)-127)
			if float64(out[j]) != fp4[j]*scale || float64(out[j+16]) != fp4[15-j]*scale {
				t.Fatalf("e=%d j=%d: got %v, %v", e, j, out[j], out[j+16])
			}
		}
	}
}

// Quantizing puts every value on the nearest level of its block's scale, the
// largest within the top levels, and Dot against Q8_0 activations is the
// float64 dot of the decoded values to float32 accuracy.
func TestMXFP4QuantizeAndDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 39))
	f, err := FormatOf(gguf.TypeMXFP4)
	if err != nil {
		t.Fatal(err)
	}
	n := 256
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64()) * 0.3
	}
	w := make([]byte, gguf.TypeMXFP4.RowBytes(n))
	f.Quantize(w, x)
	back := make([]float32, n)
	f.Dequantize(back, w)
	for i := 0; i < n; i += 32 {
		amax := absMax(x[i : i+32])
		d := math.Ldexp(1, int(w[i/32*blockMXFP4])-127)
		for j := i; j < i+32; j++ {
			// Within half the widest gap between levels (2 units of d), and the
			// block maximum not clipped by more than that.
			if math.Abs(float64(back[j]-x[j])) > d+1e-9 {
				t.Fatalf("value %d: %v quantized to %v (scale %g, block max %v)", j, x[j], back[j], d, amax)
			}
		}
	}
	act := make([]float32, n)
	for i := range act {
		act[i] = float32(rng.NormFloat64())
	}
	q := make([]byte, gguf.TypeQ8_0.RowBytes(n))
	QuantizeActivations(gguf.TypeQ8_0, q, act)
	qa := make([]float32, n)
	dequantizeQ8_0(qa, q)
	var want float64
	for i := range back {
		want += float64(back[i]) * float64(qa[i])
	}
	if got := f.Dot(w, q, n); math.Abs(float64(got)-want) > 1e-4*(1+math.Abs(want)) {
		t.Fatalf("Dot %v, float64 %v", got, want)
	}
}

// The exponent is floor(log2f(max|x|)) − 2 with log2 rounded to float32, as
// ggml's quantize_row_mxfp4_ref: a maximum just below a power of two, whose
// float32 log2 rounds up to the integer, takes the larger exponent; a block
// of zeros takes 0.
func TestMXFP4ExponentAsLog2f(t *testing.T) {
	cases := []struct {
		amax float32
		e    uint8
	}{
		{4, 127}, {math.Nextafter32(4, 0), 126}, {math.Nextafter32(1<<20, 0), 145}, {1 << 20, 145}, {0x1p20 * 0.9999, 144}, {1, 125}, {0.75, 124}, {0, 0},
	}
	for _, c := range cases {
		x := make([]float32, 32)
		x[5] = -c.amax
		b := make([]byte, blockMXFP4)
		quantizeMXFP4(b, x)
		if b[0] != c.e {
			t.Errorf("max %v: exponent %d, want %d", c.amax, b[0], c.e)
		}
	}
}
