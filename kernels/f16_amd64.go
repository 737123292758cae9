package kernels

//go:noescape
func f16ToF32AVX512(dst *float32, src *byte, n int) (nan bool)

//go:noescape
func f32ToF16AVX512(dst *byte, src *float32, n int) (nan bool)

//go:noescape
func roundF16AVX512(v *float32, n int) (nan bool)

// dequantizeF16AVX512 is dequantizeF16, 16 values per instruction; a row with
// a NaN is redone by the twin, which keeps signalling NaNs as they are.
func dequantizeF16AVX512(dst []float32, src []byte) {
	src = src[:2*len(dst)]
	n := len(dst) &^ 15
	if n > 0 && f16ToF32AVX512(&dst[0], &src[0], n) {
		n = 0
	}
	dequantizeF16(dst[n:], src[2*n:])
}

// quantizeF16AVX512 is quantizeF16, 16 values per instruction; a row with a
// NaN is redone by the twin.
func quantizeF16AVX512(dst []byte, src []float32) {
	dst = dst[:2*len(src)]
	n := len(src) &^ 15
	if n > 0 && f32ToF16AVX512(&dst[0], &src[0], n) {
		n = 0
	}
	quantizeF16(dst[2*n:], src[n:])
}

// roundToF16AVX512 is RoundToF16's loop, 16 values per instruction; a row
// with a NaN is finished by the twin (see roundF16AVX512).
func roundToF16AVX512(v []float32) {
	n := len(v) &^ 15
	if n > 0 && roundF16AVX512(&v[0], n) {
		n = 0
	}
	roundToF16(v[n:])
}

//go:noescape
func dotF16AVX512(w, a *byte, n int) float32

// dotF16Fast is dotF16 in AVX-512, with its bits.
func dotF16Fast(w, a []byte, n int) float32 {
	w, a = w[:2*n], a[:2*n]
	if n == 0 {
		return 0
	}
	return dotF16AVX512(&w[0], &a[0], n)
}
