package kernels

import (
	"encoding/binary"
	"math"
)

// The K-quants (Q2_K … Q6_K) pack 256 values into a super-block with
// per-sub-block scales (and mins), themselves quantized against one or two
// fp16 super-block scales. Their dot products take Q8_K activations. This
// file holds what the types share: ggml's rounding and its searches for good
// scales, written from the algorithms' descriptions.

const qkK = 256

// groupMaxEps is ggml's GROUP_MAX_EPS: below it a group counts as all zero.
const groupMaxEps = 1e-15

// nearestInt is ggml's nearest_int: round half to even (it adds 1.5·2^23 in
// float32 and reads the mantissa, which rounds to even for |f| < 2^22).
func nearestInt(f float32) int { return int(math.RoundToEven(float64(f))) }

// clampInt limits v to [lo, hi].
func clampInt(v, lo, hi int) int { return max(lo, min(hi, v)) }

// putF32 and getF32 store and load a little-endian float32.
func putF32(b []byte, f float32) { binary.LittleEndian.PutUint32(b, math.Float32bits(f)) }
func getF32(b []byte) float32    { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }

// makeQKX2 is ggml's make_qkx2_quants: quantizes x to levels 0..nmax with a
// scale and a min (x ≈ scale·L − theMin, theMin ≥ 0), starting from the
// min/max grid and then trying nstep+1 grids iscale = (rmin + rdelta·is +
// nmax)/(max − min), each refined by a weighted least-squares fit of scale
// and min; the fit with the smallest weighted error (absolute if useMad,
// else squared) wins. L receives the levels; laux is scratch of len(x).
// Every float32 operation is rounded as ggml's C does (no fused multiply-add).
func makeQKX2(nmax int, x, weights []float32, L, laux []uint8, rmin, rdelta float32, nstep int, useMad bool) (scale, theMin float32) {
	n := len(x)
	lo, hi := x[0], x[0]
	sumW := weights[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < n; i++ {
		if x[i] < lo {
			lo = x[i]
		}
		if x[i] > hi {
			hi = x[i]
		}
		w := weights[i]
		sumW += w
		sumX += float32(w * x[i])
	}
	if lo > 0 {
		lo = 0
	}
	if hi == lo {
		for i := range L[:n] {
			L[i] = 0
		}
		return 0, -lo
	}
	fmax := float32(nmax)
	iscale := fmax / (hi - lo)
	scale = 1 / iscale
	errOf := func(diff float32) float32 {
		if useMad {
			return float32(math.Abs(float64(diff)))
		}
		return float32(diff * diff)
	}
	var best float32
	for i := 0; i < n; i++ {
		l := clampInt(nearestInt(float32(iscale*float32(x[i]-lo))), 0, nmax)
		L[i] = uint8(l)
		diff := float32(float32(scale*float32(l))+lo) - x[i]
		best += float32(weights[i] * errOf(diff))
	}
	if nstep < 1 {
		return scale, -lo
	}
	for is := 0; is <= nstep; is++ {
		iscale = float32(float32(rmin+float32(rdelta*float32(is)))+fmax) / (hi - lo)
		var sumL, sumL2, sumXL float32
		for i := 0; i < n; i++ {
			l := clampInt(nearestInt(float32(iscale*float32(x[i]-lo))), 0, nmax)
			laux[i] = uint8(l)
			w, fl := weights[i], float32(l)
			wl := float32(w * fl)
			sumL += wl
			sumL2 += float32(wl * fl)
			sumXL += float32(wl * x[i])
		}
		d := float32(sumW*sumL2) - float32(sumL*sumL)
		if d > 0 {
			thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / d
			thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / d
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var cur float32
			for i := 0; i < n; i++ {
				diff := float32(float32(thisScale*float32(laux[i]))+thisMin) - x[i]
				cur += float32(weights[i] * errOf(diff))
			}
			if cur < best {
				copy(L[:n], laux[:n])
				best = cur
				scale = thisScale
				lo = thisMin
			}
		}
	}
	return scale, -lo
}

// makeQX is ggml's make_qx_quants with rmse_type 1 and no importance
// weights (as Q6_K uses it): symmetric levels −nmax..nmax−1 stored as
// L = l + nmax, weights x², the scale refined by least squares over the
// grids iscale = −(nmax + 0.1·is)/max, is = −9..9; the best fit wins.
func makeQX(nmax int, x []float32, L []int8) float32 {
	var maxV, amax float32
	for _, v := range x {
		if ax := float32(math.Abs(float64(v))); ax > amax {
			amax, maxV = ax, v
		}
	}
	if amax < groupMaxEps {
		for i := range L[:len(x)] {
			L[i] = 0
		}
		return 0
	}
	fmax := float32(nmax)
	sums := func(iscale float32, store bool) (sumLX, sumL2 float32) {
		for i, v := range x {
			l := clampInt(nearestInt(float32(iscale*v)), -nmax, nmax-1)
			if store {
				L[i] = int8(l + nmax)
			}
			w, fl := float32(v*v), float32(l)
			sumLX += float32(float32(w*v) * fl)
			sumL2 += float32(float32(w*fl) * fl)
		}
		return
	}
	iscale := -fmax / maxV
	sumLX, sumL2 := sums(iscale, true)
	var scale float32
	if sumL2 != 0 {
		scale = sumLX / sumL2
	}
	best := float32(scale * sumLX)
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -float32(fmax+float32(0.1*float32(is))) / maxV
		slx, sl2 := sums(iscale, false)
		if sl2 > 0 && float32(slx*slx) > float32(best*sl2) {
			sums(iscale, true)
			scale = slx / sl2
			best = float32(scale * slx)
		}
	}
	return scale
}

// makeQ3 is ggml's make_q3_quants with do_rmse: symmetric levels
// −nmax..nmax−1 (stored as L = l + nmax) from iscale = −nmax/max, then up to
// 5 passes that move single levels wherever that improves the weighted
// (x²) least-squares fit.
func makeQ3(nmax int, x []float32, L []int8) float32 {
	var maxV, amax float32
	for _, v := range x {
		if ax := float32(math.Abs(float64(v))); ax > amax {
			amax, maxV = ax, v
		}
	}
	if amax < groupMaxEps {
		for i := range L[:len(x)] {
			L[i] = 0
		}
		return 0
	}
	iscale := -float32(nmax) / maxV
	var sumLX, sumL2 float32
	for i, v := range x {
		l := clampInt(nearestInt(float32(iscale*v)), -nmax, nmax-1)
		L[i] = int8(l)
		w, fl := float32(v*v), float32(l)
		sumLX += float32(float32(w*v) * fl)
		sumL2 += float32(float32(w*fl) * fl)
	}
	for itry := 0; itry < 5; itry++ {
		changed := 0
		for i, v := range x {
			w := float32(v * v)
			fl := float32(L[i])
			slx := sumLX - float32(float32(w*v)*fl)
			if slx > 0 {
				sl2 := sumL2 - float32(float32(w*fl)*fl)
				nl := clampInt(nearestInt(float32(v*sl2)/slx), -nmax, nmax-1)
				if nl != int(L[i]) {
					fnl := float32(nl)
					slx += float32(float32(w*v) * fnl)
					sl2 += float32(float32(w*fnl) * fnl)
					if sl2 > 0 && float32(float32(slx*slx)*sumL2) > float32(float32(sumLX*sumLX)*sl2) {
						L[i] = int8(nl)
						sumLX, sumL2 = slx, sl2
						changed++
					}
				}
			}
		}
		if changed == 0 {
			break
		}
	}
	for i := range x {
		L[i] += int8(nmax)
	}
	return sumLX / sumL2
}

// scaleMinK4 unpacks sub-block j's 6-bit scale and min from the 12 scale
// bytes of a Q4_K or Q5_K block (ggml's get_scale_min_k4): for j < 4 the low 6
// bits of bytes j and j+4; otherwise 4 bits from byte j+4 and the top 2 bits
// of bytes j−4 (scale) and j (min).
func scaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xf | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// packScaleMinK4 is the inverse of scaleMinK4 for 8 scales and mins < 64.
func packScaleMinK4(q []byte, ls, lm *[8]uint8) {
	for j := 0; j < 8; j++ {
		if j < 4 {
			q[j] = ls[j]
			q[j+4] = lm[j]
		} else {
			q[j+4] = ls[j]&0xf | (lm[j]&0xf)<<4
			q[j-4] |= (ls[j] >> 4) << 6
			q[j] |= (lm[j] >> 4) << 6
		}
	}
}
