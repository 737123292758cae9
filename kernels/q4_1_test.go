package kernels

import (
	"math"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQ4_1Dequantize(t *testing.T) {
	// d = 1, m = -2; byte 0 = 0xf0: value 0 = 0·1-2, value 16 = 15·1-2;
	// byte 1 = 0x21: value 1 = 1-2, value 17 = 2-2; 0x00 → -2.
	b := block(le16(0x3c00), le16(0xc000), qs16(0x00, map[int]byte{0: 0xf0, 1: 0x21}))
	require.Len(t, b, gguf.TypeQ4_1.BlockBytes())
	want := vals(-2, map[int]float32{16: 13, 1: -1, 17: 0})
	assert.Equal(t, want, dequantize(t, gguf.TypeQ4_1, b, 32))
}

func TestQ4_1Quantize(t *testing.T) {
	tests := []struct {
		name string
		in   []float32
		want []byte
	}{
		{"all zero", make([]float32, 32), make([]byte, 20)},
		{
			// min = max = 3: d = 0, id = 0, q = 0, m = 3 (0x4200).
			"constant block",
			vals(3, nil),
			block(le16(0), le16(0x4200), qs16(0, nil)),
		},
		{
			// min = -2, max = 13 → d = 1, m = -2; q = trunc(x + 2 + 0.5):
			// -2 → 0, 13 → 15, -1.5 → 1 (half rounds up), 0.49 → 2, -0.5 → 2.
			"rounding",
			vals(-2, map[int]float32{1: 13, 2: -1.5, 3: 0.49, 16: -0.5}),
			block(le16(0x3c00), le16(0xc000), qs16(0, map[int]byte{0: 0x20, 1: 0x0f, 2: 0x01, 3: 0x02})),
		},
		{
			// min = -10, max = -2.5 → d = 0.5, m = -10 (0xc900): -2.5 → 15,
			// -6 → 8, -9.75 → 1 (half up).
			"all negative",
			vals(-10, map[int]float32{1: -2.5, 2: -6, 16: -9.75}),
			block(le16(0x3800), le16(0xc900), qs16(0, map[int]byte{0: 0x10, 1: 0x0f, 2: 0x08})),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, quantize(t, gguf.TypeQ4_1, tt.in))
		})
	}
}

// TestQ4_1RoundTrip: (x-min)/d lies in [0, 15] and trunc(· + 0.5) rounds it
// half up, so |err| ≤ d/2; storing d and m as fp16 adds 15·|d − fp16(d)| and
// |min − fp16(min)|; 1e-5·max(|min|, |max|) covers the float32 roundings.
func TestQ4_1RoundTrip(t *testing.T) {
	checkRoundTrip(t, gguf.TypeQ4_1, func(x []float32, _ int) float64 {
		lo, hi := minMax(x)
		d := (hi - lo) / 15
		return float64(d)/2 + 15*f16Err(d) + f16Err(lo) + 1e-5*math.Max(math.Abs(float64(lo)), math.Abs(float64(hi)))
	})
}

// TestQ4_1Dot: minTermBound is the exact per-dot bound. The relative
// tolerance is 2e-3 because s is stored as fp16 (relative error up to
// 2^-11 ≈ 4.9e-4) and on these inputs Σ|m_w·s_a| is a few times |ref|.
func TestQ4_1Dot(t *testing.T) {
	for _, n := range []int{32, 256, 4096} {
		checkDot(t, gguf.TypeQ4_1, n, minTermBound(blockQ4_1), 2e-3)
	}
}

func BenchmarkDotQ4_1(b *testing.B) { benchDot(b, gguf.TypeQ4_1, 4096) }
