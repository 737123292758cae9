package kernels

import (
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQ8_0Dequantize(t *testing.T) {
	tests := []struct {
		name  string
		block []byte
		want  []float32
	}{
		{
			"d=0.5",
			block(le16(0x3800), pad(i8s(1, -1, 127, -128, 0, 2, -3), 32)),
			pad([]float32{0.5, -0.5, 63.5, -64, 0, 1, -1.5}, 32),
		},
		{
			"d=-3 (negative scale)",
			block(le16(0xc200), pad(i8s(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5), 32)),
			pad(append(make([]float32, 31), -15), 32),
		},
		{
			"subnormal d=2^-24",
			block(le16(0x0001), pad(i8s(3, -100), 32)),
			pad([]float32{3.0 / (1 << 24), -100.0 / (1 << 24)}, 32),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Len(t, tt.block, gguf.TypeQ8_0.BlockBytes())
			assert.Equal(t, tt.want, dequantize(t, gguf.TypeQ8_0, tt.block, 32))
		})
	}
}

func TestQ8_0Quantize(t *testing.T) {
	tests := []struct {
		name string
		in   []float32
		want []byte
	}{
		{"all zero: d=0, q=0", make([]float32, 32), make([]byte, 34)},
		{
			// amax 127 → d = 1, id = 1: the halves round away from zero, not to even.
			"ties away from zero",
			pad([]float32{127, 0.5, -0.5, 1.5, 2.5, -63.5, 0.49999997, -126.5}, 32),
			block(le16(0x3c00), pad(i8s(127, 1, -1, 2, 3, -64, 0, -127), 32)),
		},
		{
			// The max is negative: amax = 254 → d = 2, id = 0.5.
			"negative max",
			pad([]float32{1, -254, 3, -1, 5}, 32),
			block(le16(0x4000), pad(i8s(1, -127, 2, -1, 3), 32)),
		},
		{
			// amax = 1 → d = 1/127, stored as fp16 0x2008 (2^-7·(1+8/1024),
			// 1/127 = 2^-7·1.00787…, 0.00787·1024 = 8.06 → 8); q uses the
			// float32 1/d ≈ 127, not the fp16 one.
			"d not exact in fp16",
			pad([]float32{1, 0.25, -1}, 32),
			block(le16(0x2008), pad(i8s(127, 32, -127), 32)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, quantize(t, gguf.TypeQ8_0, tt.in))
		})
	}
}

// TestQ8_0RoundTrip: per value |x − q·d16| ≤ |x − q·d| + |q|·|d − d16|, where
// the first term is at most d/2 (round to nearest of x/d) and the second is
// the fp16 rounding of the scale, at most 127·|d − d16|; 1e-6·d covers the
// float32 rounding of x·(1/d).
func TestQ8_0RoundTrip(t *testing.T) {
	checkRoundTrip(t, gguf.TypeQ8_0, func(x []float32, _ int) float64 {
		d := absMax(x) / 127
		return float64(d)/2 + 127*f16Err(d) + 1e-6*float64(d)
	})
}

// TestQ8_0Dot: the integer block sums are exact; each block term takes 2
// float32 roundings (d_w·d_a, then ·isum) and is added to a float32
// accumulator, nb terms in all.
func TestQ8_0Dot(t *testing.T) {
	for _, n := range []int{32, 256, 4096} {
		checkDot(t, gguf.TypeQ8_0, n, blockBound, 1e-5)
	}
}

func BenchmarkDotQ8_0(b *testing.B) { benchDot(b, gguf.TypeQ8_0, 4096) }
