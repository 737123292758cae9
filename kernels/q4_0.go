package kernels

import "math"

// Q4_0 block (18 bytes, 32 values): fp16 scale d, then 16 bytes of 4-bit
// quants q: value j in the low nibble of byte j, value j+16 in the high
// nibble; value j is (q[j]-8)*d.
const (
	qk4_0      = 32
	blockQ4_0  = 2 + qk4_0/2
	q4_0QsOffs = 2
)

// signedMax returns the value of xs with the largest magnitude, sign kept;
// the first one wins among equal magnitudes (0 for an all-zero slice).
func signedMax(xs []float32) float32 {
	var amax, max float32
	for _, v := range xs {
		if a := float32(math.Abs(float64(v))); amax < a {
			amax, max = a, v
		}
	}
	return max
}

// minMax returns the smallest and largest values of xs.
func minMax(xs []float32) (lo, hi float32) {
	lo, hi = math.MaxFloat32, -math.MaxFloat32
	for _, v := range xs {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

// truncClamp is C's min(limit, (int8_t)v) for the non-negative v the
// reference quantizers produce: truncation toward zero, capped at limit.
func truncClamp(v float32, limit int32) int32 {
	return min(limit, int32(v))
}

// quantizeQ4_0 is ggml's quantize_row_q4_0_ref: max is the value of largest
// magnitude, d = max / -8, q = min(15, trunc(x*(1/d) + 8.5)).
func quantizeQ4_0(dst []byte, src []float32) {
	nb := len(src) / qk4_0
	dst = dst[:nb*blockQ4_0]
	for i := 0; i < nb; i++ {
		x := src[i*qk4_0 : (i+1)*qk4_0]
		b := dst[i*blockQ4_0 : (i+1)*blockQ4_0]
		d := signedMax(x) / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		for j := 0; j < qk4_0/2; j++ {
			q0 := truncClamp(float32(x[j]*id)+8.5, 15)
			q1 := truncClamp(float32(x[j+qk4_0/2]*id)+8.5, 15)
			b[q4_0QsOffs+j] = byte(q0) | byte(q1)<<4
		}
	}
}

func dequantizeQ4_0(dst []float32, src []byte) {
	nb := len(dst) / qk4_0
	src = src[:nb*blockQ4_0]
	for i := 0; i < nb; i++ {
		b := src[i*blockQ4_0 : (i+1)*blockQ4_0]
		d := getF16(b)
		y := dst[i*qk4_0 : (i+1)*qk4_0]
		for j := 0; j < qk4_0/2; j++ {
			q := b[q4_0QsOffs+j]
			y[j] = float32(int32(q&0xf)-8) * d
			y[j+qk4_0/2] = float32(int32(q>>4)-8) * d
		}
	}
}

// dotQ4_0 (Q4_0 × Q8_0): the nibbles unpacked to q_w-8 in value order, then
// accumulated as dotQ8_0 does: per block the exact integer sum, then one
// fused multiply-add with d_w*d_a.
func dotQ4_0(w, a []byte, n int) float32 {
	nb := n / qk4_0
	w, a = w[:nb*blockQ4_0], a[:nb*blockQ8_0]
	var acc float32
	for i := 0; i < nb; i++ {
		bw := w[i*blockQ4_0 : (i+1)*blockQ4_0]
		ba := a[i*blockQ8_0 : (i+1)*blockQ8_0]
		var isum int32
		for j := 0; j < qk4_0/2; j++ {
			b := bw[q4_0QsOffs+j]
			isum += (int32(b&0xf)-8)*int32(int8(ba[q8_0QsOffs+j])) +
				(int32(b>>4)-8)*int32(int8(ba[q8_0QsOffs+j+qk4_0/2]))
		}
		acc = blockFMA(getF16(bw)*getF16(ba), isum, acc)
	}
	return acc
}
