package kernels

import (
	"math"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQ5_1Dequantize(t *testing.T) {
	// d = 0.5, m = 1; qh = 2 (fifth bit of value 1); byte 0 = 0x10: value 0 =
	// 0·0.5+1, value 16 = 1·0.5+1; byte 1 = 0xff: value 1 = 31·0.5+1,
	// value 17 = 15·0.5+1; others 1.
	b := block(le16(0x3800), le16(0x3c00), le32(2), qs16(0, map[int]byte{0: 0x10, 1: 0xff}))
	require.Len(t, b, gguf.TypeQ5_1.BlockBytes())
	want := vals(1, map[int]float32{16: 1.5, 1: 16.5, 17: 8.5})
	assert.Equal(t, want, dequantize(t, gguf.TypeQ5_1, b, 32))
}

func TestQ5_1Quantize(t *testing.T) {
	tests := []struct {
		name string
		in   []float32
		want []byte
	}{
		{"all zero", make([]float32, 32), make([]byte, 24)},
		{
			// min = max = -1: d = 0, m = -1 (0xbc00), q = 0.
			"constant block",
			vals(-1, nil),
			block(le16(0), le16(0xbc00), le32(0), qs16(0, nil)),
		},
		{
			// min = 0, max = 31 → d = 1: 31 → 31, 16.5 → 17 (half up),
			// 15.49 → 15.
			"rounding",
			vals(0, map[int]float32{1: 31, 16: 16.5, 17: 15.49}),
			block(le16(0x3c00), le16(0), le32(0x00010002), qs16(0, map[int]byte{0: 0x10, 1: 0xff})),
		},
		{
			// min = -4, max = 3.75 → d = 0.25 (0x3400), m = -4 (0xc400):
			// 3.75 → 31, -3.875 → 1 (half up).
			"negative min",
			vals(-4, map[int]float32{1: 3.75, 2: -3.875}),
			block(le16(0x3400), le16(0xc400), le32(2), qs16(0, map[int]byte{1: 0x0f, 2: 0x01})),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, quantize(t, gguf.TypeQ5_1, tt.in))
		})
	}
}

// TestQ5_1RoundTrip: as Q4_1 with 31 levels: |err| ≤ d/2 + 31·|d − fp16(d)|
// + |min − fp16(min)| + 1e-5·max(|min|, |max|).
func TestQ5_1RoundTrip(t *testing.T) {
	checkRoundTrip(t, gguf.TypeQ5_1, func(x []float32, _ int) float64 {
		lo, hi := minMax(x)
		d := (hi - lo) / 31
		return float64(d)/2 + 31*f16Err(d) + f16Err(lo) + 1e-5*math.Max(math.Abs(float64(lo)), math.Abs(float64(hi)))
	})
}

// TestQ5_1Dot: see minTermBound and TestQ4_1Dot.
func TestQ5_1Dot(t *testing.T) {
	for _, n := range []int{32, 256, 4096} {
		checkDot(t, gguf.TypeQ5_1, n, minTermBound(blockQ5_1), 2e-3)
	}
}

func BenchmarkDotQ5_1(b *testing.B) { benchDot(b, gguf.TypeQ5_1, 4096) }
