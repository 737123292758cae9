package kernels

import (
	"encoding/binary"
	"math"
)

// F16ToF32 converts an IEEE 754 binary16 value to float32 exactly, subnormals,
// infinities and NaNs (payload kept) included.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // ±0
		return math.Float32frombits(sign)
	}
	// Subnormal: mant × 2^-24; normalise it into a float32 normal.
	e := uint32(127 - 15 + 1)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// F32ToF16 converts f to binary16 rounding to nearest, ties to even, as the
// F16C instruction (and so ggml's GGML_FP32_TO_FP16) does: values too large
// become ±inf, values too small ±0 or a subnormal, and a NaN stays a NaN,
// quieted, with the top bits of its payload.
func F32ToF16(f float32) uint16 {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	exp := int32(bits>>23) & 0xff
	mant := bits & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15 // the half's biased exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal half (or zero): the result counts units of 2^-24.
		if e < -10 {
			return sign // below 2^-25: rounds to zero
		}
		m := mant | 0x800000
		shift := uint32(14 - e) // 14..24
		q := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && q&1 == 1) {
			q++ // may carry into the smallest normal, which is right
		}
		return sign | uint16(q)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // a carry out of the mantissa bumps the exponent, up to inf
	}
	return sign | uint16(h)
}

// BF16ToF32 converts a bfloat16 value to float32 (exact: bf16 is the top half
// of a float32).
func BF16ToF32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// F32ToBF16 converts f to bfloat16 as ggml_compute_fp32_to_bf16 does: round to
// nearest, ties to even (overflow gives ±inf, subnormals are kept); a NaN keeps
// its top payload bits and is made quiet.
func F32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// F32 rows: little-endian float32 bits.

func dequantizeF32(dst []float32, src []byte) {
	src = src[:4*len(dst)]
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func quantizeF32(dst []byte, src []float32) {
	dst = dst[:4*len(src)]
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
}

// dotF32 accumulates w[i]*a[i] in dotF16's 64 float32 lanes, one fused
// multiply-add each (zeros past n), reduced by sumF16Lanes: the order of
// ggml's AVX-512 ggml_vec_dot_f32 (four 16-lane FMA registers, added
// pairwise), except that ggml adds a partial last chunk one product at a
// time. The order depends only on n.
func dotF32(w, a []byte, n int) float32 {
	w, a = w[:4*n], a[:4*n]
	var lanes [64]float32
	for i0 := 0; i0 < n; i0 += 64 {
		for l := range lanes {
			var x, y float32
			if i := i0 + l; i < n {
				x = math.Float32frombits(binary.LittleEndian.Uint32(w[4*i:]))
				y = math.Float32frombits(binary.LittleEndian.Uint32(a[4*i:]))
			}
			lanes[l] = fma32(x, y, lanes[l])
		}
	}
	return sumF16Lanes(&lanes)
}

// F16 rows: little-endian binary16.

func dequantizeF16(dst []float32, src []byte) {
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = F16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func quantizeF16(dst []byte, src []float32) {
	dst = dst[:2*len(src)]
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], F32ToF16(v))
	}
}

// dotF16 converts both operands to float32 and accumulates w[i]*a[i] in 64
// float32 lanes, lane l (0..63) taking i = l, l+64, l+128, ... with one fused
// multiply-add each, as four 16-lane FMA registers do; the row is padded with
// zeros to a multiple of 64 (products 0*0 folded in like the others). Then the
// four registers are added as (r0+r1) + (r2+r3) and the 16 lanes halved, l
// and l+8, then l and l+4, l and l+2, lane 0 and 1. The order depends only on
// n.
func dotF16(w, a []byte, n int) float32 {
	w, a = w[:2*n], a[:2*n]
	var lanes [64]float32
	for i0 := 0; i0 < n; i0 += 64 {
		for l := range lanes {
			var x, y float32
			if i := i0 + l; i < n {
				x = F16ToF32(binary.LittleEndian.Uint16(w[2*i:]))
				y = F16ToF32(binary.LittleEndian.Uint16(a[2*i:]))
			}
			lanes[l] = fma32(x, y, lanes[l])
		}
	}
	return sumF16Lanes(&lanes)
}

// sumF16Lanes is dotF16's final reduction of its 64 lanes: the four 16-lane
// registers added as (r0+r1) + (r2+r3), then the 16 lanes halved, l and l+8,
// l and l+4, l and l+2, lane 0 and 1.
func sumF16Lanes(lanes *[64]float32) float32 {
	var v [16]float32
	for l := range v {
		v[l] = (lanes[l] + lanes[16+l]) + (lanes[32+l] + lanes[48+l])
	}
	for half := 8; half >= 1; half /= 2 {
		for l := 0; l < half; l++ {
			v[l] += v[l+half]
		}
	}
	return v[0]
}

// BF16 rows: little-endian bfloat16.

func dequantizeBF16(dst []float32, src []byte) {
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func quantizeBF16(dst []byte, src []float32) {
	dst = dst[:2*len(src)]
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], F32ToBF16(v))
	}
}

// dotBF16 is dotF16 for bfloat16 operands: both converted to float32 (exact,
// a 16-bit shift), w[i]*a[i] accumulated in dotF16's 64 lanes with one fused
// multiply-add each and the lanes reduced by sumF16Lanes, so that the
// AVX-512 kernels (dot and tiles) share the F16 ones' order. The order
// depends only on n.
func dotBF16(w, a []byte, n int) float32 {
	w, a = w[:2*n], a[:2*n]
	var lanes [64]float32
	for i0 := 0; i0 < n; i0 += 64 {
		for l := range lanes {
			var x, y float32
			if i := i0 + l; i < n {
				x = BF16ToF32(binary.LittleEndian.Uint16(w[2*i:]))
				y = BF16ToF32(binary.LittleEndian.Uint16(a[2*i:]))
			}
			lanes[l] = fma32(x, y, lanes[l])
		}
	}
	return sumF16Lanes(&lanes)
}

// RoundToF16 rounds each value of v to the nearest half-precision value:
// F16ToF32(F32ToF16(x)).
func RoundToF16(v []float32) {
	if hasAVX512 {
		roundToF16AVX512(v)
		return
	}
	roundToF16(v)
}

func roundToF16(v []float32) {
	for i, x := range v {
		v[i] = F16ToF32(F32ToF16(x))
	}
}
