package kernels

import "math"

// AttnFlashF16Sink is AttnFlashF16 with an attention sink: one more logit,
// sink, in the softmax's denominator, without a value. As llama.cpp's CPU
// flash attention applies it, after the last key and with the accumulator
// converted to float32: with M the running maximum and S the sum,
//
//	sink > M:  acc = acc·e^(M-sink), S = S·e^(M-sink) + 1
//	else:      S = S + e^(sink-M)
//
// then acc·(1/S).
func AttnFlashF16Sink(out, q, k []float32, kStride int, v []float32, vStride, nt int, scale, softCap, sink float32, scores, ms, vs []float32) {
	AttnScoresF16(scores[:nt], q, k, kStride)
	// The running maximum after the last key: the largest scaled score.
	m := float32(math.Inf(-1))
	capScale := scale
	if softCap > 0 {
		capScale = scale / softCap
	}
	for _, s := range scores[:nt] {
		s *= capScale
		if softCap > 0 {
			s = float32(softCap * Tanh32(s))
		}
		m = max(m, s)
	}
	sum := FlashWeights(ms[:nt], vs[:nt], scores[:nt], scale, softCap)
	AttnAccumulateF16(out, ms[:nt], vs[:nt], v, vStride)
	if sink > m {
		f := Exp32(m - sink)
		for d := range out {
			out[d] *= f
		}
		sum = sum*f + 1
	} else {
		sum += Exp32(sink - m)
	}
	inv := float32(0)
	if sum != 0 {
		inv = 1 / sum
	}
	for d := range out {
		out[d] *= inv
	}
}
