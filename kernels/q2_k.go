package kernels

// Q2_K block (84 bytes, 256 values in 16 sub-blocks of 16):
//
//	scales[16]  sub-block j: low nibble scale s_j, high nibble min m_j
//	qs[64]      2-bit quants: value 128h + 32k + l (h < 2, k < 4, l < 32)
//	            is bits 2k..2k+1 of qs[32h + l]
//	d, dmin     fp16 super-block scales
//
// Value i of sub-block j is d·s_j·q_i − dmin·m_j.
const (
	blockQ2_K      = qkK/16 + qkK/4 + 2 + 2
	q2_KQsOffs     = qkK / 16
	q2_KDOffs      = q2_KQsOffs + qkK/4
	q2_KDminOffs   = q2_KDOffs + 2
	q2_KSubBlocks  = qkK / 16
	q2_KLevelsMax  = 3
	q2_KScaleLevel = 15
)

// q2KLevel is the 2-bit quant of value v of a Q2_K block's qs.
func q2KLevel(qs []byte, v int) int {
	return int(qs[v/128*32+v%32]>>(2*(v%128/32))) & 3
}

// quantizeQ2_K is ggml's quantize_row_q2_K_ref: per sub-block of 16 a scale
// and min from makeQKX2 (levels 0..3, weights |x|, absolute error, grids
// −0.5 + 0.1·is, is = 0..15); scales and mins are then quantized to 4 bits
// against d = max scale/15 and dmin = max min/15, and the levels recomputed
// with the stored scales.
func quantizeQ2_K(dst []byte, src []float32) {
	nb := len(src) / qkK
	dst = dst[:nb*blockQ2_K]
	var (
		L, laux          [qkK]uint8
		weights          [16]float32
		scales, mins     [q2_KSubBlocks]float32
		maxScale, maxMin float32
	)
	for i := 0; i < nb; i++ {
		x := src[i*qkK : (i+1)*qkK]
		b := dst[i*blockQ2_K : (i+1)*blockQ2_K]
		maxScale, maxMin = 0, 0
		for j := 0; j < q2_KSubBlocks; j++ {
			xs := x[16*j : 16*j+16]
			for l, v := range xs {
				weights[l] = abs32(v)
			}
			scales[j], mins[j] = makeQKX2(q2_KLevelsMax, xs, weights[:], L[16*j:16*j+16], laux[:16], -0.5, 0.1, 15, true)
			maxScale = max(maxScale, scales[j])
			maxMin = max(maxMin, mins[j])
		}
		sc := b[:q2_KSubBlocks]
		if maxScale > 0 {
			iscale := q2_KScaleLevel / maxScale
			for j := range sc {
				sc[j] = byte(nearestInt(float32(iscale * scales[j])))
			}
			putF16(b[q2_KDOffs:], maxScale/q2_KScaleLevel)
		} else {
			clear(sc)
			putF16(b[q2_KDOffs:], 0)
		}
		if maxMin > 0 {
			iscale := q2_KScaleLevel / maxMin
			for j := range sc {
				sc[j] |= byte(nearestInt(float32(iscale*mins[j])) << 4)
			}
			putF16(b[q2_KDminOffs:], maxMin/q2_KScaleLevel)
		} else {
			putF16(b[q2_KDminOffs:], 0)
		}
		d, dmin := getF16(b[q2_KDOffs:]), getF16(b[q2_KDminOffs:])
		for j := 0; j < q2_KSubBlocks; j++ {
			dl := d * float32(sc[j]&0xf)
			if dl == 0 {
				continue
			}
			ml := dmin * float32(sc[j]>>4)
			for ii := 0; ii < 16; ii++ {
				l := nearestInt(float32(x[16*j+ii]+ml) / dl)
				L[16*j+ii] = uint8(clampInt(l, 0, q2_KLevelsMax))
			}
		}
		qs := b[q2_KQsOffs:q2_KDOffs]
		for h := 0; h < 2; h++ {
			for l := 0; l < 32; l++ {
				v := 128*h + l
				qs[32*h+l] = L[v] | L[v+32]<<2 | L[v+64]<<4 | L[v+96]<<6
			}
		}
	}
}

func dequantizeQ2_K(dst []float32, src []byte) {
	nb := len(dst) / qkK
	src = src[:nb*blockQ2_K]
	for i := 0; i < nb; i++ {
		b := src[i*blockQ2_K : (i+1)*blockQ2_K]
		d, dmin := getF16(b[q2_KDOffs:]), getF16(b[q2_KDminOffs:])
		qs := b[q2_KQsOffs:q2_KDOffs]
		y := dst[i*qkK : (i+1)*qkK]
		for j := 0; j < q2_KSubBlocks; j++ {
			dl := d * float32(b[j]&0xf)
			ml := dmin * float32(b[j]>>4)
			for v := 16 * j; v < 16*j+16; v++ {
				y[v] = float32(dl*float32(q2KLevel(qs, v))) - ml
			}
		}
	}
}

// dotQ2_K (Q2_K × Q8_K): per block the exact integer sums
// isum = Σ_j s_j·Σ_i q_i·a_i and summs = Σ_j m_j·bsum_j, then
// sum += (d_a·d)·isum − (d_a·dmin)·summs in float32, blocks in order.
func dotQ2_K(w, a []byte, n int) float32 {
	nb := n / qkK
	w, a = w[:nb*blockQ2_K], a[:nb*blockQ8_K]
	var sum float32
	for i := 0; i < nb; i++ {
		bw := w[i*blockQ2_K : (i+1)*blockQ2_K]
		ba := a[i*blockQ8_K : (i+1)*blockQ8_K]
		qs := bw[q2_KQsOffs:q2_KDOffs]
		qa := ba[q8_KQsOffs:q8_KBsumsOffs]
		var isum, summs int32
		for j := 0; j < q2_KSubBlocks; j++ {
			summs += q8KBsum(ba, j) * int32(bw[j]>>4)
			var s int32
			for v := 16 * j; v < 16*j+16; v++ {
				s += int32(q2KLevel(qs, v)) * int32(int8(qa[v]))
			}
			isum += int32(bw[j]&0xf) * s
		}
		da := getF32(ba)
		dall := float32(da * getF16(bw[q2_KDOffs:]))
		dmin := float32(da * getF16(bw[q2_KDminOffs:]))
		sum += float32(dall*float32(isum)) - float32(dmin*float32(summs))
	}
	return sum
}
