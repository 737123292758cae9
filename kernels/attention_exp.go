package kernels

import "math"

// Exp32 sixteen lanes at a time (exp32AVX512, and flashFactorsAVX512 for
// FlashWeights, in attention_exp_amd64.s): the same float32 operations in
// the same order, each rounded on its own (VMULPS, VADDPS and VSUBPS, never
// an FMA), the expTable lookup by permutes over the table held in registers
// and the special cases by masks, so every lane gets Exp32's bits.

// expConsts is what the assembly reads Exp32's numbers from: the table's
// high and low parts at offsets 0 and 256, the float32 constants from 512
// and the integer ones from 576 (attention_exp_amd64.s names each offset;
// TestExpConstsLayout holds them there).
type expConsts struct {
	hi, lo [64]float32
	// invL, L1, -L2 (k·(-L2) is -(k·L2): rounding to nearest is symmetric),
	// L3, L4, Veltkamp's 4097, the Taylor coefficients 1/120, 1/24 and 1/6
	// (as Go rounds them to float32 in Exp32), 0.5, 2, the bounds -90 and
	// 89, +Inf, -Inf (FlashWeights' first maximum) and 1.
	f [16]float32
	// 127 (the largest m scaled at once, and the exponent bias), -126 (m
	// above it is at least -125) and 32 (the table index's bit 5).
	i [3]int32
}

var expVec = func() *expConsts {
	c := &expConsts{
		f: [16]float32{expInvL, expL1, -expL2, expL3, expL4, 4097, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 2, -90, 89,
			float32(math.Inf(1)), float32(math.Inf(-1)), 1},
		i: [3]int32{127, -126, 32},
	}
	for j, t := range expTable {
		c.hi[j], c.lo[j] = t[0], t[1]
	}
	return c
}()
