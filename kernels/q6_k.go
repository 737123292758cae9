package kernels

import "math"

// Q6_K block (210 bytes, 256 values in 16 sub-blocks of 16):
//
//	ql[128]     low 4 bits: in half h (128 values), value 128h + 32k + l
//	            is nibble k/2 of ql[64h + 32(k%2) + l]
//	qh[64]      high 2 bits: bits 2k..2k+1 of qh[32h + l]
//	scales[16]  int8 sub-block scales s_j
//	d           fp16 super-block scale
//
// Value i of sub-block j is d·s_j·(q_i − 32).
const (
	blockQ6_K     = qkK/2 + qkK/4 + qkK/16 + 2
	q6_KQhOffs    = qkK / 2
	q6_KScOffs    = q6_KQhOffs + qkK/4
	q6_KDOffs     = q6_KScOffs + qkK/16
	q6_KSubBlocks = qkK / 16
)

// q6KLevel is value v's quant q − 32 in −32..31.
func q6KLevel(ql, qh []byte, v int) int {
	h, k, l := v/128, v%128/32, v%32
	lo := int(ql[64*h+32*(k%2)+l]>>(4*(k/2))) & 0xf
	hi := int(qh[32*h+l]>>(2*k)) & 3
	return lo | hi<<4 - 32
}

// quantizeQ6_K is ggml's quantize_row_q6_K_ref: per sub-block of 16 a
// symmetric scale from makeQX (levels −32..31); the scales are quantized to
// int8 against d = −max/128 where max is the scale of largest magnitude, and
// the levels recomputed with the stored scales.
func quantizeQ6_K(dst []byte, src []float32) {
	nb := len(src) / qkK
	dst = dst[:nb*blockQ6_K]
	var (
		L      [qkK]int8
		scales [q6_KSubBlocks]float32
	)
	for i := 0; i < nb; i++ {
		x := src[i*qkK : (i+1)*qkK]
		b := dst[i*blockQ6_K : (i+1)*blockQ6_K]
		var maxScale, maxAbs float32
		for j := 0; j < q6_KSubBlocks; j++ {
			scales[j] = makeQX(32, x[16*j:16*j+16], L[16*j:16*j+16])
			if s := abs32(scales[j]); s > maxAbs {
				maxAbs, maxScale = s, scales[j]
			}
		}
		if maxAbs < groupMaxEps {
			clear(b)
			continue
		}
		iscale := -128 / maxScale
		putF16(b[q6_KDOffs:], 1/iscale)
		sc := b[q6_KScOffs:q6_KDOffs]
		for j := range sc {
			sc[j] = byte(int8(min(127, nearestInt(float32(iscale*scales[j])))))
		}
		d := getF16(b[q6_KDOffs:])
		for j := 0; j < q6_KSubBlocks; j++ {
			dl := d * float32(int8(sc[j]))
			if dl == 0 {
				continue
			}
			for ii := 0; ii < 16; ii++ {
				l := nearestInt(x[16*j+ii] / dl)
				L[16*j+ii] = int8(clampInt(l, -32, 31) + 32)
			}
		}
		ql, qh := b[:q6_KQhOffs], b[q6_KQhOffs:q6_KScOffs]
		for h := 0; h < 2; h++ {
			for l := 0; l < 32; l++ {
				v := 128*h + l
				q1, q2, q3, q4 := byte(L[v]), byte(L[v+32]), byte(L[v+64]), byte(L[v+96])
				ql[64*h+l] = q1&0xf | (q3&0xf)<<4
				ql[64*h+32+l] = q2&0xf | (q4&0xf)<<4
				qh[32*h+l] = q1>>4 | (q2>>4)<<2 | (q3>>4)<<4 | (q4>>4)<<6
			}
		}
	}
}

func dequantizeQ6_K(dst []float32, src []byte) {
	nb := len(dst) / qkK
	src = src[:nb*blockQ6_K]
	for i := 0; i < nb; i++ {
		b := src[i*blockQ6_K : (i+1)*blockQ6_K]
		d := getF16(b[q6_KDOffs:])
		ql, qh, sc := b[:q6_KQhOffs], b[q6_KQhOffs:q6_KScOffs], b[q6_KScOffs:q6_KDOffs]
		y := dst[i*qkK : (i+1)*qkK]
		for j := 0; j < q6_KSubBlocks; j++ {
			dl := d * float32(int8(sc[j]))
			for v := 16 * j; v < 16*j+16; v++ {
				y[v] = dl * float32(q6KLevel(ql, qh, v))
			}
		}
	}
}

// dotQ6_K (Q6_K × Q8_K): per block the exact integer sum
// isum = Σ_j s_j·Σ_i (q_i − 32)·a_i, then sum = fma(isum, d·d_a, sum) in
// float32, blocks in order (llama.cpp's AMX and VNNI order, see dotQ4_K).
func dotQ6_K(w, a []byte, n int) float32 {
	nb := n / qkK
	w, a = w[:nb*blockQ6_K], a[:nb*blockQ8_K]
	var sum float32
	for i := 0; i < nb; i++ {
		bw := w[i*blockQ6_K : (i+1)*blockQ6_K]
		ba := a[i*blockQ8_K : (i+1)*blockQ8_K]
		ql, qh, sc := bw[:q6_KQhOffs], bw[q6_KQhOffs:q6_KScOffs], bw[q6_KScOffs:q6_KDOffs]
		qa := ba[q8_KQsOffs:q8_KBsumsOffs]
		var isum int32
		for j := 0; j < q6_KSubBlocks; j++ {
			var s int32
			for v := 16 * j; v < 16*j+16; v++ {
				s += int32(q6KLevel(ql, qh, v)) * int32(int8(qa[v]))
			}
			isum += int32(int8(sc[j])) * s
		}
		sum = fma32(float32(isum), float32(getF16(bw[q6_KDOffs:])*getF32(ba)), sum)
	}
	return sum
}

// sqrt32 is C's sqrtf (the float64 square root rounds to the same float32).
func sqrt32(v float32) float32 { return float32(math.Sqrt(float64(v))) }
