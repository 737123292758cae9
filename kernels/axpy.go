package kernels

// The float32 accumulator's two steps (ggml_vec_mad_f32 and
// ggml_vec_scale_f32), chosen at start-up: an AVX-512 version or the Go
// twins, which define them.
var (
	axpyF32  = axpyF32Go
	scaleF32 = scaleF32Go
)

// axpyF32Go computes acc[i] = fma(x[i], w, acc[i]), one rounding each.
func axpyF32Go(acc, x []float32, w float32) {
	x = x[:len(acc)]
	for i, v := range x {
		acc[i] = fma32(v, w, acc[i])
	}
}

// scaleF32Go computes acc[i] *= m.
func scaleF32Go(acc []float32, m float32) {
	for i := range acc {
		acc[i] *= m
	}
}
