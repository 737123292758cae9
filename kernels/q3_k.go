package kernels

// Q3_K block (110 bytes, 256 values in 16 sub-blocks of 16):
//
//	hmask[32]   high bit of each 3-bit quant: value 32k + l is bit k of
//	            hmask[l]; a set bit adds 4 to the low two bits
//	qs[64]      low 2 bits, laid out as Q2_K's
//	scales[12]  16 6-bit scales s_j, biased by 32: the low nibble of byte j
//	            (j < 8) or the high nibble of byte j−8, and bits 2(j/4)..+1
//	            of byte 8 + j%4
//	d           fp16 super-block scale
//
// Value i of sub-block j is d·(s_j − 32)·(q_i − 4), q_i = low + 4·high.
const (
	blockQ3_K     = qkK/8 + qkK/4 + 12 + 2
	q3_KQsOffs    = qkK / 8
	q3_KScOffs    = q3_KQsOffs + qkK/4
	q3_KDOffs     = q3_KScOffs + 12
	q3_KSubBlocks = qkK / 16
)

// q3KScale is sub-block j's scale s_j − 32 from the 12 scale bytes.
func q3KScale(sc []byte, j int) int {
	var lo byte
	if j < 8 {
		lo = sc[j] & 0xf
	} else {
		lo = sc[j-8] >> 4
	}
	hi := (sc[8+j%4] >> (2 * (j / 4))) & 3
	return int(lo|hi<<4) - 32
}

// q3KLevel is value v's quant q − 4 in −4..3.
func q3KLevel(hmask, qs []byte, v int) int {
	q := q2KLevel(qs, v)
	if hmask[v%32]&(1<<(v/32)) == 0 {
		q -= 4
	}
	return q
}

// quantizeQ3_K is ggml's quantize_row_q3_K_ref: per sub-block of 16 a
// symmetric scale from makeQ3 (levels −4..3); the scales are quantized to
// 6 bits against d = −max/32 where max is the scale of largest magnitude,
// and the levels recomputed with the stored scales.
func quantizeQ3_K(dst []byte, src []float32) {
	nb := len(src) / qkK
	dst = dst[:nb*blockQ3_K]
	var (
		L      [qkK]int8
		scales [q3_KSubBlocks]float32
	)
	for i := 0; i < nb; i++ {
		x := src[i*qkK : (i+1)*qkK]
		b := dst[i*blockQ3_K : (i+1)*blockQ3_K]
		var maxScale, amax float32
		for j := 0; j < q3_KSubBlocks; j++ {
			scales[j] = makeQ3(4, x[16*j:16*j+16], L[16*j:16*j+16])
			if s := abs32(scales[j]); s > amax {
				amax, maxScale = s, scales[j]
			}
		}
		sc := b[q3_KScOffs:q3_KDOffs]
		clear(sc)
		if maxScale != 0 {
			iscale := -32 / maxScale
			for j := 0; j < q3_KSubBlocks; j++ {
				l := int(int8(nearestInt(float32(iscale * scales[j]))))
				l = clampInt(l, -32, 31) + 32
				if j < 8 {
					sc[j] = byte(l & 0xf)
				} else {
					sc[j-8] |= byte(l&0xf) << 4
				}
				sc[8+j%4] |= byte(l>>4) << (2 * (j / 4))
			}
			putF16(b[q3_KDOffs:], 1/iscale)
		} else {
			putF16(b[q3_KDOffs:], 0)
		}
		d := getF16(b[q3_KDOffs:])
		for j := 0; j < q3_KSubBlocks; j++ {
			dl := d * float32(q3KScale(sc, j))
			if dl == 0 {
				continue
			}
			for ii := 0; ii < 16; ii++ {
				l := nearestInt(x[16*j+ii] / dl)
				L[16*j+ii] = int8(clampInt(l, -4, 3) + 4)
			}
		}
		hmask := b[:q3_KQsOffs]
		clear(hmask)
		for v := 0; v < qkK; v++ {
			if L[v] > 3 {
				hmask[v%32] |= 1 << (v / 32)
				L[v] -= 4
			}
		}
		qs := b[q3_KQsOffs:q3_KScOffs]
		for h := 0; h < 2; h++ {
			for l := 0; l < 32; l++ {
				v := 128*h + l
				qs[32*h+l] = byte(L[v] | L[v+32]<<2 | L[v+64]<<4 | L[v+96]<<6)
			}
		}
	}
}

func dequantizeQ3_K(dst []float32, src []byte) {
	nb := len(dst) / qkK
	src = src[:nb*blockQ3_K]
	for i := 0; i < nb; i++ {
		b := src[i*blockQ3_K : (i+1)*blockQ3_K]
		d := getF16(b[q3_KDOffs:])
		hmask, qs, sc := b[:q3_KQsOffs], b[q3_KQsOffs:q3_KScOffs], b[q3_KScOffs:q3_KDOffs]
		y := dst[i*qkK : (i+1)*qkK]
		for j := 0; j < q3_KSubBlocks; j++ {
			dl := d * float32(q3KScale(sc, j))
			for v := 16 * j; v < 16*j+16; v++ {
				y[v] = dl * float32(q3KLevel(hmask, qs, v))
			}
		}
	}
}

// dotQ3_K (Q3_K × Q8_K): per block the exact integer sum
// isum = Σ_j (s_j − 32)·Σ_i (q_i − 4)·a_i, then sum += (d·d_a)·isum in
// float32, blocks in order.
func dotQ3_K(w, a []byte, n int) float32 {
	nb := n / qkK
	w, a = w[:nb*blockQ3_K], a[:nb*blockQ8_K]
	var sum float32
	for i := 0; i < nb; i++ {
		bw := w[i*blockQ3_K : (i+1)*blockQ3_K]
		ba := a[i*blockQ8_K : (i+1)*blockQ8_K]
		hmask, qs, sc := bw[:q3_KQsOffs], bw[q3_KQsOffs:q3_KScOffs], bw[q3_KScOffs:q3_KDOffs]
		qa := ba[q8_KQsOffs:q8_KBsumsOffs]
		var isum int32
		for j := 0; j < q3_KSubBlocks; j++ {
			var s int32
			for v := 16 * j; v < 16*j+16; v++ {
				s += int32(q3KLevel(hmask, qs, v)) * int32(int8(qa[v]))
			}
			isum += int32(q3KScale(sc, j)) * s
		}
		sum += float32(float32(getF16(bw[q3_KDOffs:])*getF32(ba)) * float32(isum))
	}
	return sum
}
