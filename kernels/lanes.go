package kernels

import "math"

// blockLanes accumulates a dot product of 32-value integer blocks the way
// llama.cpp's x86 build does (AVX2/AVX-512 vec_dot and tinyBLAS): eight float
// lanes, lane l holding the integer sum of products 4l..4l+3 of each block,
// scaled by the block's d_w*d_a with one fused multiply-add per block, and the
// lanes added pairwise at the end. Matching that order keeps greedy outputs of
// quantized models closer to llama.cpp's; it depends only on n.
type blockLanes [8]float32

// add folds in one block: scale is d_w*d_a, w and a the 32 integer values.
func (l *blockLanes) add(scale float32, w, a *[32]int8) {
	for lane := 0; lane < 8; lane++ {
		j := 4 * lane
		isum := int32(w[j])*int32(a[j]) + int32(w[j+1])*int32(a[j+1]) +
			int32(w[j+2])*int32(a[j+2]) + int32(w[j+3])*int32(a[j+3])
		l[lane] = fma32(scale, float32(isum), l[lane])
	}
}

// sum adds the lanes as _mm256 horizontal sums do: halves, then pairs.
func (l *blockLanes) sum() float32 {
	s0, s1, s2, s3 := l[4]+l[0], l[5]+l[1], l[6]+l[2], l[7]+l[3]
	return (s0 + s2) + (s1 + s3)
}

// fma32 is a float32 fused multiply-add: x*y+z rounded once, as VFMADD231PS
// and the other float32 FMA instructions compute it. x*y is exact in float64
// (24+24 bits), and the sum is taken to float64 rounding to odd, which then
// rounds to float32 as a single rounding of the exact value would: float64
// has more than two bits to spare, so no tie is made or broken by the first
// rounding.
func fma32(x, y, z float32) float32 {
	p := float64(float64(x) * float64(y)) // exact
	zz := float64(z)
	s := float64(p + zz)
	if s == 0 || math.IsInf(s, 0) || math.IsNaN(s) {
		return float32(s)
	}
	// s+e == p+z exactly (Knuth's TwoSum).
	bb := float64(s - p)
	e := float64(float64(p-float64(s-bb)) + float64(zz-bb))
	if bits := math.Float64bits(s); e != 0 && bits&1 == 0 {
		// Inexact with an even last bit: step to the odd neighbour on the
		// side of the exact value.
		if (e > 0) == (s > 0) {
			bits++
		} else {
			bits--
		}
		s = math.Float64frombits(bits)
	}
	return float32(s)
}
