package kernels

//go:noescape
func swigluAVX512(out, gate, up *float32, n int)

func init() {
	if hasAVX512 {
		swigluVector = func(out, gate, up []float32) {
			swigluAVX512(&out[0], &gate[0], &up[0], len(out))
		}
	}
}
