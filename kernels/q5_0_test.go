package kernels

import (
	"math"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQ5_0Dequantize(t *testing.T) {
	// d = 1; qh = 0x80010001 (fifth bit of values 0, 16, 31);
	// byte 0 = 0xf0: value 0 = (0|16)-16, value 16 = (15|16)-16;
	// byte 1 = 0x0f: value 1 = 15-16, value 17 = 0-16; others 0-16, but value
	// 31 = (0|16)-16.
	b := block(le16(0x3c00), le32(0x80010001), qs16(0, map[int]byte{0: 0xf0, 1: 0x0f}))
	require.Len(t, b, gguf.TypeQ5_0.BlockBytes())
	want := vals(-16, map[int]float32{0: 0, 16: 15, 1: -1, 17: -16, 31: 0})
	assert.Equal(t, want, dequantize(t, gguf.TypeQ5_0, b, 32))
}

func TestQ5_0Quantize(t *testing.T) {
	tests := []struct {
		name string
		in   []float32
		want []byte
	}{
		{
			// d = 0/-16 = -0 (0x8000), q = trunc(16.5) = 16: every fifth bit set.
			"all zero",
			make([]float32, 32),
			block(le16(0x8000), le32(0xffffffff), qs16(0, nil)),
		},
		{
			// max = -16 → d = 1, q = min(31, trunc(x + 16.5)): -16 → 0,
			// 15 → 31, 0.5 → 17, -0.5 → 16, 16 (later, same magnitude) → 32
			// → 31, 0 → 16. Only value 0 has no fifth bit.
			"negative max, clamp",
			vals(0, map[int]float32{0: -16, 1: 15, 16: 0.5, 17: -0.5, 31: 16}),
			block(le16(0x3c00), le32(0xfffffffe), qs16(0, map[int]byte{0: 0x10, 1: 0x0f, 15: 0xf0})),
		},
		{
			// max = 32 → d = -2, id = -0.5: 32 → 0, -31 → 31, 1 → 16, 3 → 15,
			// 0 → 16. Values 0 and 3 have no fifth bit.
			"positive max",
			vals(0, map[int]float32{0: 32, 1: -31, 2: 1, 3: 3}),
			block(le16(0xc000), le32(0xfffffff6), qs16(0, map[int]byte{1: 0x0f, 3: 0x0f})),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, quantize(t, gguf.TypeQ5_0, tt.in))
		})
	}
}

// TestQ5_0RoundTrip: as Q4_0 with 16 for 8: |err| ≤ D/2 with D = |max|/16,
// ≤ D for values of the max's opposite sign beyond 15.5·D (clamped to 31),
// plus 16·|d − fp16(d)| and 1e-5·D.
func TestQ5_0RoundTrip(t *testing.T) {
	checkRoundTrip(t, gguf.TypeQ5_0, func(x []float32, j int) float64 {
		max := signedMax(x)
		d := float64(max) / 16
		D := math.Abs(d)
		e := D / 2
		if float64(x[j])/-d > 15.5 {
			e = D
		}
		return e + 16*f16Err(max/-16) + 1e-5*D
	})
}

// TestQ5_0Dot: integer block sums, then as the Q8_0 dot.
func TestQ5_0Dot(t *testing.T) {
	for _, n := range []int{32, 256, 4096} {
		checkDot(t, gguf.TypeQ5_0, n, blockBound, 1e-5)
	}
}

func BenchmarkDotQ5_0(b *testing.B) { benchDot(b, gguf.TypeQ5_0, 4096) }
