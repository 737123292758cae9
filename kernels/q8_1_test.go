package kernels

import (
	"math"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQ8_1Dequantize(t *testing.T) {
	b := block(le16(0x3800), le16(0x1234), pad(i8s(4, -6, 127, -128), 32))
	require.Len(t, b, gguf.TypeQ8_1.BlockBytes())
	// s plays no part in the values.
	assert.Equal(t, pad([]float32{2, -3, 63.5, -64}, 32), dequantize(t, gguf.TypeQ8_1, b, 32))
}

func TestQ8_1Quantize(t *testing.T) {
	tests := []struct {
		name string
		in   []float32
		want []byte
	}{
		{"all zero", make([]float32, 32), make([]byte, 36)},
		{
			// d = 1; q = 127, -1, 1 (0.5 rounds away from zero); s = 127 = 0x57f0.
			"d=1",
			pad([]float32{127, -1, 0.5}, 32),
			block(le16(0x3c00), le16(0x57f0), pad(i8s(127, -1, 1), 32)),
		},
		{
			// Negative max: d = 2, q = -127, 2 (1.5 → 2); s = -125·2 = -250 = 0xdbd0.
			"negative max",
			pad([]float32{-254, 3}, 32),
			block(le16(0x4000), le16(0xdbd0), pad(i8s(-127, 2), 32)),
		},
		{
			// Σq = 16·127 + 17 = 2049 lies halfway between the fp16 values
			// 2048 and 2050: s rounds to even, 2048 = 0x6800.
			"s rounds to even",
			vals(0, map[int]float32{0: 127, 1: 127, 2: 127, 3: 127, 4: 127, 5: 127, 6: 127, 7: 127, 8: 127, 9: 127, 10: 127, 11: 127, 12: 127, 13: 127, 14: 127, 15: 127, 16: 17}),
			block(le16(0x3c00), le16(0x6800), i8s(127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, quantize(t, gguf.TypeQ8_1, tt.in))
		})
	}
}

// TestQ8_1RoundTrip: as Q8_0 (the values are stored the same way):
// |err| ≤ d/2 + 127·|d − fp16(d)| + 1e-6·d.
func TestQ8_1RoundTrip(t *testing.T) {
	checkRoundTrip(t, gguf.TypeQ8_1, func(x []float32, _ int) float64 {
		d := absMax(x) / 127
		return float64(d)/2 + 127*f16Err(d) + 1e-6*float64(d)
	})
}

// TestQ8_1Sum: s is fp16(d·Σq) for every block.
func TestQ8_1Sum(t *testing.T) {
	x := randFloats(newRand(9), 32*16, -5, 7)
	b := quantize(t, gguf.TypeQ8_1, x)
	for i := 0; i < 16; i++ {
		blk := b[i*blockQ8_1 : (i+1)*blockQ8_1]
		var sum int
		for _, q := range blk[4:] {
			sum += int(int8(q))
		}
		d := absMax(x[i*32:(i+1)*32]) / 127
		require.Equal(t, F32ToF16(float32(sum)*d), uint16(blk[2])|uint16(blk[3])<<8, "block %d", i)
		require.InDelta(t, float64(sum)*float64(getF16(blk)), float64(getF16(blk[2:])), math.Abs(float64(sum)*float64(d))*0x1p-10)
	}
}

// TestQ8_1Dot: as the Q8_0 dot.
func TestQ8_1Dot(t *testing.T) {
	for _, n := range []int{32, 4096} {
		checkDot(t, gguf.TypeQ8_1, n, blockBound, 1e-5)
	}
}

func BenchmarkDotQ8_1(b *testing.B) { benchDot(b, gguf.TypeQ8_1, 4096) }
