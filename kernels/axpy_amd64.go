package kernels

//go:noescape
func axpyF32AVX512(acc, x *float32, n int, w float32)

//go:noescape
func scaleF32AVX512(acc *float32, n int, m float32)

func init() {
	if hasAVX512 {
		axpyF32, scaleF32 = axpyF32Fast, scaleF32Fast
	}
}

// axpyF32Fast is axpyF32Go in AVX-512 for lengths of whole 16-value vectors.
func axpyF32Fast(acc, x []float32, w float32) {
	n := len(acc) &^ 15
	if n > 0 {
		_ = x[n-1]
		axpyF32AVX512(&acc[0], &x[0], n, w)
	}
	axpyF32Go(acc[n:], x[n:], w)
}

// scaleF32Fast is scaleF32Go in AVX-512 for lengths of whole 16-value vectors.
func scaleF32Fast(acc []float32, m float32) {
	n := len(acc) &^ 15
	if n > 0 {
		scaleF32AVX512(&acc[0], n, m)
	}
	scaleF32Go(acc[n:], m)
}
