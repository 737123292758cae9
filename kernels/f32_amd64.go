package kernels

import "github.com/conveyor-llm/conveyor/gguf"

func init() {
	if hasBF16Kernels { // the same features: AVX-512 BW and BMI2
		formats[gguf.TypeF32].Dot = dotF32Fast
	}
}

//go:noescape
func dotF32AVX512(w, a *byte, n int) float32

// dotF32Fast is dotF32 in AVX-512, with its bits.
func dotF32Fast(w, a []byte, n int) float32 {
	w, a = w[:4*n], a[:4*n]
	if n == 0 {
		return 0
	}
	return dotF32AVX512(&w[0], &a[0], n)
}
