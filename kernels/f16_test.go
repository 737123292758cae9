package kernels

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func f32bits(u uint32) float32 { return math.Float32frombits(u) }

// TestF16ToF32Exhaustive checks every half against the value worked out from
// its fields in float64, and the round trip half → float → half.
func TestF16ToF32Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		sign, exp, mant := float64(1), int(h>>10&0x1f), float64(h&0x3ff)
		if h&0x8000 != 0 {
			sign = -1
		}
		f := F16ToF32(h)
		switch {
		case exp == 0x1f && mant == 0:
			require.True(t, math.IsInf(float64(f), int(sign)), "%#04x", h)
		case exp == 0x1f:
			require.True(t, f != f, "%#04x is NaN", h)
			require.Equal(t, uint32(h&0x3ff)<<13, math.Float32bits(f)&0x7fffff, "%#04x payload", h)
			require.Equal(t, h|0x0200, F32ToF16(f), "%#04x NaN comes back quiet", h)
			continue
		case exp == 0:
			require.Equal(t, sign*math.Ldexp(mant, -24), float64(f), "%#04x", h)
		default:
			require.Equal(t, sign*math.Ldexp(1+mant/1024, exp-15), float64(f), "%#04x", h)
		}
		require.Equal(t, math.Signbit(sign), math.Signbit(float64(f)), "%#04x sign", h)
		require.Equal(t, h, F32ToF16(f), "%#04x round trip", h)
	}
}

func TestF32ToF16Rounding(t *testing.T) {
	tests := []struct {
		name string
		in   float32
		want uint16
	}{
		{"one", 1, 0x3c00},
		{"minus two", -2, 0xc000},
		{"0.1", 0.1, 0x2e66}, // 0.1 = 1.6 × 2^-4; 0.6×1024 = 614.4 → 614 = 0x266
		{"zero", 0, 0x0000},
		{"minus zero", float32(math.Copysign(0, -1)), 0x8000},
		{"tie 1+2^-11 to even 1", 1 + 1.0/2048, 0x3c00},
		{"tie 1+3·2^-11 to even 1+2^-9", 1 + 3.0/2048, 0x3c02},
		{"just above tie", 1 + 1.0/2048 + 1.0/(1<<20), 0x3c01},
		{"just below tie", 1 + 3.0/2048 - 1.0/(1<<20), 0x3c01},
		{"mantissa carry into exponent", 2 - 1.0/4096, 0x4000},
		{"largest half", 65504, 0x7bff},
		{"below overflow tie", 65519.996, 0x7bff},
		{"overflow tie 65520 rounds to even: inf", 65520, 0x7c00},
		{"overflow", 1e6, 0x7c00},
		{"negative overflow", -1e6, 0xfc00},
		{"max float32", math.MaxFloat32, 0x7c00},
		{"inf", float32(math.Inf(1)), 0x7c00},
		{"minus inf", float32(math.Inf(-1)), 0xfc00},
		{"smallest normal 2^-14", 1.0 / (1 << 14), 0x0400},
		{"tie 2^-14-2^-25 to even normal", 1.0/(1<<14) - 1.0/(1<<25), 0x0400},
		{"largest subnormal", 1.0/(1<<14) - 1.0/(1<<24), 0x03ff},
		{"smallest subnormal 2^-24", 1.0 / (1 << 24), 0x0001},
		{"tie 2^-25 to even zero", 1.0 / (1 << 25), 0x0000},
		{"minus tie 2^-25 to minus zero", -1.0 / (1 << 25), 0x8000},
		{"just above 2^-25", 1.0/(1<<25) + 1.0/(1<<40), 0x0001},
		{"tie 3·2^-25 to even 2", 3.0 / (1 << 25), 0x0002},
		{"tie 5·2^-25 to even 2", 5.0 / (1 << 25), 0x0002},
		{"subnormal 1.5·2^-20 (no rounding)", 1.5 / (1 << 20), 0x0018},
		{"tiny", 1e-10, 0x0000},
		{"float32 subnormal", f32bits(1), 0x0000},
		{"quiet NaN", f32bits(0x7fc00000), 0x7e00},
		{"signalling NaN, low payload lost, made quiet", f32bits(0x7f800001), 0x7e00},
		{"negative NaN payload kept", f32bits(0xffa00000), 0xff00},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, F32ToF16(tt.in), "%g", tt.in)
		})
	}
}

func TestBF16Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := BF16ToF32(h)
		require.Equal(t, uint32(h)<<16, math.Float32bits(f))
		if h&0x7fff > 0x7f80 {
			require.Equal(t, h|0x40, F32ToBF16(f), "%#04x NaN comes back quiet", h)
			continue
		}
		require.Equal(t, h, F32ToBF16(f), "%#04x round trip", h)
	}
}

func TestF32ToBF16Rounding(t *testing.T) {
	tests := []struct {
		name string
		in   uint32
		want uint16
	}{
		{"one", 0x3f800000, 0x3f80},
		{"tie 1+2^-8 to even 1", 0x3f808000, 0x3f80},
		{"tie 1+3·2^-8 to even 1+2^-6", 0x3f818000, 0x3f82},
		{"just above tie", 0x3f808001, 0x3f81},
		{"just below tie", 0x3f817fff, 0x3f81},
		{"negative tie", 0xbf808000, 0xbf80},
		{"max float32 overflows to inf", 0x7f7fffff, 0x7f80},
		{"inf", 0x7f800000, 0x7f80},
		{"minus zero", 0x80000000, 0x8000},
		{"subnormal tie to even zero", 0x00008000, 0x0000},
		{"subnormal tie to even 2", 0x00018000, 0x0002},
		{"subnormal kept", 0x00010001, 0x0001},
		{"signalling NaN made quiet", 0x7f800001, 0x7fc0},
		{"negative NaN payload kept", 0xff810000, 0xffc1},
		{"NaN not rounded into inf", 0x7f80ffff, 0x7fc0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, F32ToBF16(f32bits(tt.in)))
		})
	}
}
