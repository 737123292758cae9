package kernels

import (
	"math"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQ4_0Dequantize(t *testing.T) {
	// d = 0.5; byte 0 = 0xf0: value 0 = (0-8)·0.5, value 16 = (15-8)·0.5;
	// byte 1 = 0x18: value 1 = (8-8)·0.5, value 17 = (1-8)·0.5; 0x88 → 0.
	b := block(le16(0x3800), qs16(0x88, map[int]byte{0: 0xf0, 1: 0x18}))
	require.Len(t, b, gguf.TypeQ4_0.BlockBytes())
	want := vals(0, map[int]float32{0: -4, 16: 3.5, 1: 0, 17: -3.5})
	assert.Equal(t, want, dequantize(t, gguf.TypeQ4_0, b, 32))
}

func TestQ4_0Quantize(t *testing.T) {
	tests := []struct {
		name string
		in   []float32
		want []byte
	}{
		{
			// max = +0, d = 0/-8 = -0 (fp16 0x8000, as ggml), id = 0: q = 8.
			"all zero",
			make([]float32, 32),
			block(le16(0x8000), qs16(0x88, nil)),
		},
		{
			// max = -8 → d = 1, id = 1, q = min(15, trunc(x + 8.5)):
			// -8 → 0, 7 → 15, 7.6 → 16 → 15, -0.5 → 8, 0.5 → 9, -7.5 → 1,
			// 8 (same magnitude as the max, but later: not the max) → 15,
			// -0.5-2^-21 → 7.99999952 → 7, 0 → 8.
			"negative max, truncation and clamp",
			vals(0, map[int]float32{0: -8, 1: 7, 2: 7.6, 3: -0.5, 4: 0.5, 5: -7.5, 16: 8, 17: -0.5 - 0x1p-21}),
			block(le16(0x3c00), qs16(0x88, map[int]byte{0: 0xf0, 1: 0x7f, 2: 0x8f, 3: 0x88, 4: 0x89, 5: 0x81})),
		},
		{
			// max = 16 → d = -2, id = -0.5: 16 → 0, -14 → 15, 1 → 8, 3 → 7, 0 → 8.
			"positive max",
			vals(0, map[int]float32{0: 16, 1: -14, 2: 1, 3: 3}),
			block(le16(0xc000), qs16(0x88, map[int]byte{0: 0x80, 1: 0x8f, 2: 0x88, 3: 0x87})),
		},
		{
			// Equal magnitudes: the first is the max. 2 first → d = -0.25.
			"first of equal magnitudes wins (+)",
			vals(0, map[int]float32{0: 2, 1: -2}),
			block(le16(0xb400), qs16(0x88, map[int]byte{0: 0x80, 1: 0x8f})),
		},
		{
			"first of equal magnitudes wins (-)",
			vals(0, map[int]float32{0: -2, 1: 2}),
			block(le16(0x3400), qs16(0x88, map[int]byte{0: 0x80, 1: 0x8f})),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, quantize(t, gguf.TypeQ4_0, tt.in))
		})
	}
}

// TestQ4_0RoundTrip: with D = |max|/8, x/D lies in [-8, 8] and
// trunc(x/d + 8.5) rounds it half up, so |err| ≤ D/2, except values of the
// max's opposite sign beyond 7.5·D, which clamp to 15: there |err| ≤ D.
// Storing d as fp16 adds |q-8|·|d − fp16(d)| ≤ 8·|d − fp16(d)|; 1e-5·D covers
// the float32 rounding of x·(1/d) + 8.5.
func TestQ4_0RoundTrip(t *testing.T) {
	checkRoundTrip(t, gguf.TypeQ4_0, func(x []float32, j int) float64 {
		max := signedMax(x)
		d := float64(max) / 8
		D := math.Abs(d)
		e := D / 2
		if float64(x[j])/-d > 7.5 {
			e = D
		}
		return e + 8*f16Err(max/-8) + 1e-5*D
	})
}

// TestQ4_0Dot: integer block sums, then as the Q8_0 dot.
func TestQ4_0Dot(t *testing.T) {
	for _, n := range []int{32, 256, 4096} {
		checkDot(t, gguf.TypeQ4_0, n, blockBound, 1e-5)
	}
}

func BenchmarkDotQ4_0(b *testing.B) { benchDot(b, gguf.TypeQ4_0, 4096) }
