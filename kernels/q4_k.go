package kernels

// Q4_K block (144 bytes, 256 values in 8 sub-blocks of 32):
//
//	d, dmin     fp16 super-block scales
//	scales[12]  8 6-bit scales s_j and mins m_j (see scaleMinK4)
//	qs[128]     4-bit quants: value 64h + l (l < 32) is the low nibble of
//	            qs[32h + l], value 64h + 32 + l its high nibble
//
// Value i of sub-block j is d·s_j·q_i − dmin·m_j.
const (
	blockQ4_K     = 2 + 2 + 12 + qkK/2
	q4_KScOffs    = 4
	q4_KQsOffs    = 16
	q4_KSubBlocks = qkK / 32
)

// q4KLevel is value v's 4-bit quant.
func q4KLevel(qs []byte, v int) int {
	return int(qs[v/64*32+v%32]>>(4*(v%64/32))) & 0xf
}

// kQuantScalesMins runs makeQKX2 on each sub-block of 32 of x with ggml's
// weights for Q4_K and Q5_K (w = rms(sub-block) + |x|) and quantizes the
// scales and mins to 6 bits against max/63 (ggml's shared first half of
// quantize_row_q4_K_ref and _q5_K_ref). It writes d, dmin and the packed
// scales to b and the levels to L.
func kQuantScalesMins(b []byte, x []float32, L, laux []uint8, nmax int, rmin float32, nstep int) {
	var (
		weights          [32]float32
		scales, mins     [8]float32
		maxScale, maxMin float32
	)
	for j := 0; j < 8; j++ {
		xs := x[32*j : 32*j+32]
		var sumX2 float32
		for _, v := range xs {
			sumX2 += float32(v * v)
		}
		avX := sqrt32(sumX2 / 32)
		for l, v := range xs {
			weights[l] = avX + abs32(v)
		}
		scales[j], mins[j] = makeQKX2(nmax, xs, weights[:], L[32*j:32*j+32], laux, rmin, 0.1, nstep, false)
		maxScale = max(maxScale, scales[j])
		maxMin = max(maxMin, mins[j])
	}
	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	var ls, lm [8]uint8
	for j := 0; j < 8; j++ {
		ls[j] = min(63, uint8(nearestInt(float32(invScale*scales[j]))))
		lm[j] = min(63, uint8(nearestInt(float32(invMin*mins[j]))))
	}
	packScaleMinK4(b[q4_KScOffs:q4_KQsOffs], &ls, &lm)
	putF16(b, maxScale/63)
	putF16(b[2:], maxMin/63)
}

// kQuantLevels recomputes the levels 0..nmax of x with the stored scales and
// mins of a Q4_K or Q5_K block b; sub-blocks whose scale is 0 keep L.
func kQuantLevels(b []byte, x []float32, L []uint8, nmax int) {
	d, dmin := getF16(b), getF16(b[2:])
	for j := 0; j < 8; j++ {
		sc, m := scaleMinK4(j, b[q4_KScOffs:q4_KQsOffs])
		dl := d * float32(sc)
		if dl == 0 {
			continue
		}
		dm := dmin * float32(m)
		for ii := 0; ii < 32; ii++ {
			l := nearestInt(float32(x[32*j+ii]+dm) / dl)
			L[32*j+ii] = uint8(clampInt(l, 0, nmax))
		}
	}
}

// quantizeQ4_K is ggml's quantize_row_q4_K_ref: makeQKX2 with levels 0..15,
// grids −1 + 0.1·is (is = 0..20), squared error.
func quantizeQ4_K(dst []byte, src []float32) {
	nb := len(src) / qkK
	dst = dst[:nb*blockQ4_K]
	var L, laux [qkK]uint8
	for i := 0; i < nb; i++ {
		x := src[i*qkK : (i+1)*qkK]
		b := dst[i*blockQ4_K : (i+1)*blockQ4_K]
		kQuantScalesMins(b, x, L[:], laux[:32], 15, -1, 20)
		kQuantLevels(b, x, L[:], 15)
		qs := b[q4_KQsOffs:]
		for h := 0; h < 4; h++ {
			for l := 0; l < 32; l++ {
				qs[32*h+l] = L[64*h+l] | L[64*h+32+l]<<4
			}
		}
	}
}

func dequantizeQ4_K(dst []float32, src []byte) {
	nb := len(dst) / qkK
	src = src[:nb*blockQ4_K]
	for i := 0; i < nb; i++ {
		b := src[i*blockQ4_K : (i+1)*blockQ4_K]
		d, dmin := getF16(b), getF16(b[2:])
		qs := b[q4_KQsOffs:]
		y := dst[i*qkK : (i+1)*qkK]
		for j := 0; j < q4_KSubBlocks; j++ {
			sc, m := scaleMinK4(j, b[q4_KScOffs:q4_KQsOffs])
			dl, ml := d*float32(sc), dmin*float32(m)
			for v := 32 * j; v < 32*j+32; v++ {
				y[v] = float32(dl*float32(q4KLevel(qs, v))) - ml
			}
		}
	}
}

// dotQ4_K (Q4_K × Q8_K): per block the exact integer sums
// isum = Σ_j s_j·Σ_i q_i·a_i and summs = Σ_j m_j·(bsum_2j + bsum_2j+1), then
// sum = fma(isum, d_a·d, sum) and sum = fma(−summs, d_a·dmin, sum) in
// float32, blocks in order: the order of llama.cpp's AMX and VNNI kernels,
// which it uses for Q4_K, Q5_K and Q6_K weights on x86 with AMX (for a batch
// and for one row alike).
func dotQ4_K(w, a []byte, n int) float32 {
	nb := n / qkK
	w, a = w[:nb*blockQ4_K], a[:nb*blockQ8_K]
	var sum float32
	for i := 0; i < nb; i++ {
		bw := w[i*blockQ4_K : (i+1)*blockQ4_K]
		ba := a[i*blockQ8_K : (i+1)*blockQ8_K]
		qs := bw[q4_KQsOffs:]
		qa := ba[q8_KQsOffs:q8_KBsumsOffs]
		var isum, summs int32
		for j := 0; j < q4_KSubBlocks; j++ {
			sc, m := scaleMinK4(j, bw[q4_KScOffs:q4_KQsOffs])
			summs += int32(m) * (q8KBsum(ba, 2*j) + q8KBsum(ba, 2*j+1))
			var s int32
			for v := 32 * j; v < 32*j+32; v++ {
				s += int32(q4KLevel(qs, v)) * int32(int8(qa[v]))
			}
			isum += int32(sc) * s
		}
		sum = kDotAcc(sum, bw, ba, isum, summs)
	}
	return sum
}

// kDotAcc adds one block of the Q4_K and Q5_K dots to sum:
// fma(−summs, d_a·dmin, fma(isum, d_a·d, sum)) (d and dmin are the block's
// first two fp16 values).
func kDotAcc(sum float32, bw, ba []byte, isum, summs int32) float32 {
	da := getF32(ba)
	d := float32(da * getF16(bw))
	dmin := float32(da * getF16(bw[2:]))
	sum = fma32(float32(isum), d, sum)
	return fma32(-float32(summs), dmin, sum)
}
