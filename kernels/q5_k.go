package kernels

// Q5_K block (176 bytes, 256 values in 8 sub-blocks of 32):
//
//	d, dmin     fp16 super-block scales
//	scales[12]  8 6-bit scales s_j and mins m_j (see scaleMinK4)
//	qh[32]      fifth bits: value 32k + l is bit k of qh[l]
//	qs[128]     low 4 bits, laid out as Q4_K's
//
// Value i of sub-block j is d·s_j·q_i − dmin·m_j, q_i = low + 16·high.
const (
	blockQ5_K     = 2 + 2 + 12 + qkK/8 + qkK/2
	q5_KQhOffs    = 16
	q5_KQsOffs    = q5_KQhOffs + qkK/8
	q5_KSubBlocks = qkK / 32
)

// q5KLevel is value v's 5-bit quant.
func q5KLevel(qh, qs []byte, v int) int {
	return q4KLevel(qs, v) | int(qh[v%32]>>(v/32)&1)<<4
}

// quantizeQ5_K is ggml's quantize_row_q5_K_ref: as Q4_K with levels 0..31
// and grids −0.5 + 0.1·is (is = 0..15).
func quantizeQ5_K(dst []byte, src []float32) {
	nb := len(src) / qkK
	dst = dst[:nb*blockQ5_K]
	var L, laux [qkK]uint8
	for i := 0; i < nb; i++ {
		x := src[i*qkK : (i+1)*qkK]
		b := dst[i*blockQ5_K : (i+1)*blockQ5_K]
		kQuantScalesMins(b, x, L[:], laux[:32], 31, -0.5, 15)
		kQuantLevels(b, x, L[:], 31)
		qh, qs := b[q5_KQhOffs:q5_KQsOffs], b[q5_KQsOffs:]
		clear(qh)
		for h := 0; h < 4; h++ {
			for l := 0; l < 32; l++ {
				l1, l2 := L[64*h+l], L[64*h+32+l]
				if l1 > 15 {
					l1 -= 16
					qh[l] |= 1 << (2 * h)
				}
				if l2 > 15 {
					l2 -= 16
					qh[l] |= 2 << (2 * h)
				}
				qs[32*h+l] = l1 | l2<<4
			}
		}
	}
}

func dequantizeQ5_K(dst []float32, src []byte) {
	nb := len(dst) / qkK
	src = src[:nb*blockQ5_K]
	for i := 0; i < nb; i++ {
		b := src[i*blockQ5_K : (i+1)*blockQ5_K]
		d, dmin := getF16(b), getF16(b[2:])
		qh, qs := b[q5_KQhOffs:q5_KQsOffs], b[q5_KQsOffs:]
		y := dst[i*qkK : (i+1)*qkK]
		for j := 0; j < q5_KSubBlocks; j++ {
			sc, m := scaleMinK4(j, b[q4_KScOffs:q5_KQhOffs])
			dl, ml := d*float32(sc), dmin*float32(m)
			for v := 32 * j; v < 32*j+32; v++ {
				y[v] = float32(dl*float32(q5KLevel(qh, qs, v))) - ml
			}
		}
	}
}

// dotQ5_K (Q5_K × Q8_K): as dotQ4_K with 5-bit quants.
func dotQ5_K(w, a []byte, n int) float32 {
	nb := n / qkK
	w, a = w[:nb*blockQ5_K], a[:nb*blockQ8_K]
	var sum float32
	for i := 0; i < nb; i++ {
		bw := w[i*blockQ5_K : (i+1)*blockQ5_K]
		ba := a[i*blockQ8_K : (i+1)*blockQ8_K]
		qh, qs := bw[q5_KQhOffs:q5_KQsOffs], bw[q5_KQsOffs:]
		qa := ba[q8_KQsOffs:q8_KBsumsOffs]
		var isum, summs int32
		for j := 0; j < q5_KSubBlocks; j++ {
			sc, m := scaleMinK4(j, bw[q4_KScOffs:q5_KQhOffs])
			summs += int32(m) * (q8KBsum(ba, 2*j) + q8KBsum(ba, 2*j+1))
			var s int32
			for v := 32 * j; v < 32*j+32; v++ {
				s += int32(q5KLevel(qh, qs, v)) * int32(int8(qa[v]))
			}
			isum += int32(sc) * s
		}
		sum = kDotAcc(sum, bw, ba, isum, summs)
	}
	return sum
}
