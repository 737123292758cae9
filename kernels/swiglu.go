package kernels

import "math"

// SwiGLU computes out[i] = silu(gate[i])·up[i], silu(x) = x/(1+e^-x), for one
// row as llama.cpp's x86 build does (ggml_vec_swiglu_f32 with AVX-512): the
// first len&^15 values with ggml's vectorized e^x (vexp32), the rest with
// expf. out may be gate or up.
func SwiGLU(out, gate, up []float32) {
	n := len(out)
	if len(gate) < n || len(up) < n {
		panic("kernels: SwiGLU: gate or up shorter than out")
	}
	nv := n &^ 15
	if nv > 0 {
		swigluVector(out[:nv], gate[:nv], up[:nv])
	}
	for i := nv; i < n; i++ {
		x := gate[i]
		out[i] = float32(x/(1+float32(math.Exp(float64(-x))))) * up[i]
	}
}

// swigluVector is SwiGLU over whole vectors of 16 (len a multiple of 16):
// swigluVectorGo, or its assembly twin where the machine has AVX-512.
var swigluVector = swigluVectorGo

func swigluVectorGo(out, gate, up []float32) {
	for i := range out {
		x := gate[i]
		out[i] = float32(x/(1+vexp32(0-x))) * up[i]
	}
}

// vexp32 is one lane of ggml's AVX-512 ggml_v_expf (after ARM's optimized
// routines): n = round(x·log2 e) by adding and subtracting 1.5·2^23, b = x −
// n·ln2 in two fused steps, e^b by a degree-5 polynomial in b and b² whose
// every step is a fused multiply-add, then scaled by 2^n; |n| > 192 gives 0
// or +Inf. Up to about 2 ulps from e^x; what matters is that it is ggml's.
func vexp32(x float32) float32 {
	const shift = 0x1.8p23
	z := fma32(x, 0x1.715476p+0, shift)
	n := z - shift
	b := fma32(-n, 0x1.7f7d1cp-20, fma32(-n, 0x1.62e4p-1, x))
	u := float32(b * b)
	j := fma32(
		fma32(fma32(0x1.0e4020p-7, b, 0x1.573e2ep-5), u, fma32(0x1.555e66p-3, b, 0x1.fffdb6p-2)),
		u,
		fma32(0x1.ffffecp-1, b, 1))
	if math.Abs(float64(n)) > 192 {
		if n <= 0 {
			return 0
		}
		return float32(math.Inf(1))
	}
	return float32(math.Ldexp(float64(j), int(n))) // VSCALEFPS: one rounding
}
