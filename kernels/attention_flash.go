package kernels

import (
	"fmt"
	"math"
)

// Flash attention over an F16 KV cache, as llama.cpp's CPU build computes it
// (ggml's one-chunk flash attention, the path it takes for fewer than 64
// query rows): q rounded to F16; for each key in order the score q·k; an
// online softmax whose running maximum M and sum S rescale, on every new
// maximum, an accumulator of the V rows that is F16, rounded to F16 after
// every key:
//
//	s > M:  ms = e^(M-s), M = s, acc = f16(acc·ms), vs = 1
//	else:   vs = e^(s-M)
//	acc = f16(fma(v, vs, acc));  S = S·ms + vs
//
// and finally acc·(1/S). Exp32 stands in for expf (see attention_math.go).

// AttnFlashF16 computes one query head's attention output into out (len =
// head dim) from q (its F16-rounded query, same length), nt keys and values
// (F16 values as float32, rows kStride and vStride apart), the score scale and
// the soft cap (0: none). scores, ms and vs are scratch of at least nt values.
func AttnFlashF16(out, q, k []float32, kStride int, v []float32, vStride, nt int, scale, softCap float32, scores, ms, vs []float32) {
	hd := len(q)
	if len(out) != hd || nt <= 0 || kStride < hd || vStride < hd || len(k) < (nt-1)*kStride+hd ||
		len(v) < (nt-1)*vStride+hd || len(scores) < nt || len(ms) < nt || len(vs) < nt {
		panic(fmt.Sprintf("kernels: AttnFlashF16: %d keys of %d values (strides %d, %d) do not fit (out %d, k %d, v %d, scratch %d/%d/%d)",
			nt, hd, kStride, vStride, len(out), len(k), len(v), len(scores), len(ms), len(vs)))
	}
	AttnScoresF16(scores[:nt], q, k, kStride)
	sum := FlashWeights(ms[:nt], vs[:nt], scores[:nt], scale, softCap)
	AttnAccumulateF16(out, ms[:nt], vs[:nt], v, vStride)
	inv := float32(0)
	if sum != 0 {
		inv = 1 / sum
	}
	for d := range out {
		out[d] *= inv
	}
}

// AttnScoresF16 computes dst[t] = q·k[t*kStride:] for len(dst) keys, in
// ggml_vec_dot_f16's order on AVX-512: the products (exact: F16 times F16)
// of each 64-value chunk go to 64 lanes, chunk after chunk; the lanes are
// summed as (l + l+32) + (l+16 + l+48), then halves: 8 apart, 4 apart, then
// (0+2) + (1+3). Values past the last whole chunk (all of them when the head
// has fewer than 64) are added after that in float-float, then rounded once
// (ggml adds them in float64; the two agree but for sums spanning more than
// about 48 bits).
func AttnScoresF16(dst, q, k []float32, kStride int) {
	hd, nt := len(q), len(dst)
	if nt == 0 {
		return
	}
	if hd == 0 || kStride < hd || len(k) < (nt-1)*kStride+hd {
		panic(fmt.Sprintf("kernels: AttnScoresF16: %d keys of %d values (stride %d) do not fit in %d", nt, hd, kStride, len(k)))
	}
	if hasAVX512 && hd%64 == 0 {
		attnScoresF16AVX512(&dst[0], &q[0], &k[0], kStride, nt, hd)
		return
	}
	attnScoresF16(dst, q, k, kStride)
}

func attnScoresF16(dst, q, k []float32, kStride int) {
	hd := len(q)
	np := hd &^ 63
	for t := range dst {
		key := k[t*kStride : t*kStride+hd]
		var sum float32
		if np > 0 {
			var lanes [64]float32
			for c := 0; c < np; c += 64 {
				for i := range lanes {
					lanes[i] += float32(q[c+i] * key[c+i])
				}
			}
			var v [16]float32
			for l := range v {
				v[l] = (lanes[l] + lanes[32+l]) + (lanes[16+l] + lanes[48+l])
			}
			for l := 0; l < 8; l++ {
				v[l] += v[l+8]
			}
			for l := 0; l < 4; l++ {
				v[l] += v[l+4]
			}
			sum = (v[0] + v[2]) + (v[1] + v[3])
		}
		lo := float32(0)
		for i := np; i < hd; i++ {
			var e float32
			sum, e = twoSum(sum, float32(q[i]*key[i]))
			lo += e
		}
		dst[t] = sum + lo
	}
}

// FlashWeights turns raw scores into the online softmax's per-key factors:
// each score is scaled (and soft-capped: cap·tanh(s·scale/cap)), then ms[t]
// rescales what came before key t and vs[t] weighs key t's value (see the
// recurrence above). It returns the final sum S.
//
// With AVX-512 the exponentials go sixteen at a time: the running maximum
// before each key is a prefix maximum of the scaled scores, so every
// argument of Exp32 is known before the first is taken. The assembly gives
// the factors (soft-capped scores go to it in vs with scale 1, s·1 being s)
// and the sum over them in order (leaving out the products by ms = 1 of
// chunks with no new maximum: S·1 is S, bit for bit). The bits are
// flashWeights' (TestFlashWeightsMatchesTwin).
func FlashWeights(ms, vs, scores []float32, scale, softCap float32) float32 {
	n := len(scores)
	if !hasAVX512 || n == 0 {
		return flashWeights(ms, vs, scores, scale, softCap)
	}
	ms, vs = ms[:n], vs[:n]
	src := scores
	if softCap > 0 {
		scale /= softCap
		for t, s := range scores {
			vs[t] = float32(softCap * Tanh32(s*scale))
		}
		src, scale = vs, 1
	}
	return flashFactorsAVX512(&ms[0], &vs[0], &src[0], n, scale, expVec)
}

// flashWeights is FlashWeights one key after another: the definition.
func flashWeights(ms, vs, scores []float32, scale, softCap float32) float32 {
	if softCap > 0 {
		scale /= softCap
	}
	m := float32(math.Inf(-1))
	var sum float32
	for t, s := range scores {
		s *= scale
		if softCap > 0 {
			s = float32(softCap * Tanh32(s))
		}
		ms[t], vs[t] = 1, 1
		if s > m {
			ms[t] = Exp32(m - s)
			m = s
		} else {
			vs[t] = Exp32(s - m)
		}
		sum = float32(sum*ms[t]) + vs[t]
	}
	return sum
}

// AttnAccumulateF16 runs the accumulator over len(ms) value rows: for each t,
// acc = f16(acc·ms[t]) when ms[t] != 1, then acc = f16(fma(v[t], vs[t], acc)),
// starting from zero; the F16 values end in out.
func AttnAccumulateF16(out, ms, vs, v []float32, vStride int) {
	hd, nt := len(out), len(ms)
	if hd == 0 || nt == 0 {
		clear(out)
		return
	}
	if len(vs) < nt || vStride < hd || len(v) < (nt-1)*vStride+hd {
		panic(fmt.Sprintf("kernels: AttnAccumulateF16: %d rows of %d values (stride %d) do not fit (vs %d, v %d)", nt, hd, vStride, len(vs), len(v)))
	}
	clear(out)
	if hasAVX512 && hd%16 == 0 {
		attnAccumulateF16AVX512(&out[0], &ms[0], &vs[0], &v[0], vStride, nt, hd)
		return
	}
	attnAccumulateF16(out, ms, vs, v, vStride)
}

// attnAccumulateF16 folds the rows into the accumulator already in out.
func attnAccumulateF16(out, ms, vs, v []float32, vStride int) {
	for t, m := range ms {
		if m != 1 {
			for d := range out {
				out[d] = roundF16(float32(out[d] * m))
			}
		}
		w := vs[t]
		row := v[t*vStride : t*vStride+len(out)]
		for d, x := range row {
			out[d] = roundF16(fma32(x, w, out[d]))
		}
	}
}

// roundF16 is x rounded to the nearest F16 value.
func roundF16(x float32) float32 { return F16ToF32(F32ToF16(x)) }
