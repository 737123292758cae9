package kernels

import "fmt"

// Attention's inner loops, as the CPU backend's Attend computes them: float32
// products summed in float64, in a fixed order. The Go functions here are the
// definition; amd64 runs assembly with the same bits where the CPU has
// AVX-512 (see attention_amd64.go).

// ScoreLanes is how many query heads AttnScores takes at once.
const ScoreLanes = 8

// AttnScores computes, for nt keys and ScoreLanes query heads,
//
//	dst[t*ScoreLanes+j] = float32(Σ_d float64(qT[d*ScoreLanes+j] * k[t*kStride+d]))
//
// with the float32 products summed in float64 in order d = 0..hd-1. qT is the
// queries transposed: hd rows of ScoreLanes values.
func AttnScores(dst, qT, k []float32, kStride, nt, hd int) {
	if nt <= 0 {
		return
	}
	if hd <= 0 || len(dst) < nt*ScoreLanes || len(qT) < hd*ScoreLanes || kStride < hd || len(k) < (nt-1)*kStride+hd {
		panic(fmt.Sprintf("kernels: AttnScores: %d keys of %d values (stride %d) do not fit (dst %d, qT %d, k %d)",
			nt, hd, kStride, len(dst), len(qT), len(k)))
	}
	if hasAVX512 {
		attnScoresAVX512(&dst[0], &qT[0], &k[0], kStride, nt, hd)
		return
	}
	attnScores(dst, qT, k, kStride, nt, hd)
}

func attnScores(dst, qT, k []float32, kStride, nt, hd int) {
	for t := 0; t < nt; t++ {
		key := k[t*kStride : t*kStride+hd]
		for j := 0; j < ScoreLanes; j++ {
			var dot float64
			for d, kv := range key {
				dot += float64(qT[d*ScoreLanes+j] * kv)
			}
			dst[t*ScoreLanes+j] = float32(dot)
		}
	}
}

// AttnWeightedSum computes the weighted sum of nt rows of v:
//
//	out[d] = float32(Σ_t float64(w[t] * v[t*vStride+d]))
//
// with the float32 products summed in float64 in order t = 0..nt-1.
func AttnWeightedSum(out, w, v []float32, vStride, nt int) {
	hd := len(out)
	if nt <= 0 || hd == 0 {
		clear(out)
		return
	}
	if len(w) < nt || vStride < hd || len(v) < (nt-1)*vStride+hd {
		panic(fmt.Sprintf("kernels: AttnWeightedSum: %d rows of %d values (stride %d) do not fit (w %d, v %d)",
			nt, hd, vStride, len(w), len(v)))
	}
	if hasAVX512 && hd%16 == 0 {
		attnWeightedSumAVX512(&out[0], &w[0], &v[0], vStride, nt, hd)
		return
	}
	attnWeightedSum(out, w, v, vStride, nt)
}

func attnWeightedSum(out, w, v []float32, vStride, nt int) {
	for d := range out {
		var acc float64
		for t := 0; t < nt; t++ {
			acc += float64(w[t] * v[t*vStride+d])
		}
		out[d] = float32(acc)
	}
}
