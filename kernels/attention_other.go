//go:build !amd64

package kernels

const hasAVX512 = false

func attnScoresAVX512(dst, qT, k *float32, kStride, nt, hd int) { panic("unreachable") }

func attnWeightedSumAVX512(out, w, v *float32, vStride, nt, hd int) { panic("unreachable") }

func roundToF16AVX512(v []float32) { panic("unreachable") }

func attnScoresF16AVX512(dst, q, k *float32, kStride, nt, hd int) { panic("unreachable") }

func attnAccumulateF16AVX512(out, ms, vs, v *float32, vStride, nt, hd int) { panic("unreachable") }

func exp32AVX512(dst, src *float32, n int, c *expConsts) { panic("unreachable") }

func flashFactorsAVX512(ms, vs, scores *float32, n int, scale float32, c *expConsts) float32 {
	panic("unreachable")
}
