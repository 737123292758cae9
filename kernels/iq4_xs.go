package kernels

import "encoding/binary"

// IQ4_XS block (136 bytes, 256 values in 8 sub-blocks of 32):
//
//	d            fp16 super-block scale
//	scales_h     uint16: bits 2j..2j+1 are the high 2 bits of sub-block j's scale
//	scales_l[4]  nibble j%2 of byte j/2 is the low 4 bits of sub-block j's scale
//	qs[128]      4-bit indexes into iq4Levels, sub-block j in qs[16j:16j+16]
//	             as an IQ4_NL block's: value l low, value l+16 high
//
// Value i of sub-block j is d·(ls_j − 32)·iq4Levels[q_i], ls_j the 6-bit scale.
const (
	blockIQ4_XS     = 2 + 2 + qkK/64 + qkK/2
	iq4_XSScHOffs   = 2
	iq4_XSScLOffs   = 4
	iq4_XSQsOffs    = 8
	iq4_XSSubBlocks = qkK / 32
)

// iq4XSScale is sub-block j's signed scale ls_j − 32 (−32..31).
func iq4XSScale(b []byte, j int) int32 {
	h := binary.LittleEndian.Uint16(b[iq4_XSScHOffs:])
	lo := b[iq4_XSScLOffs+j/2] >> (4 * (j % 2)) & 0xf
	hi := byte(h>>(2*j)) & 3
	return int32(lo|hi<<4) - 32
}

// quantizeIQ4_XS is ggml's quantize_row_iq4_xs_ref (quantize_iq4_xs without
// an importance matrix, which llama-quantize writes): each sub-block's scale
// from iq4Scale (weights x², 7 tries each way); d = −max/32, with max the
// sub-block scale of largest magnitude (the first), stored as fp16; each
// scale quantized to l = nearest(scale/d) in −32..31 against d before
// rounding, stored as l + 32; the levels nearest x/(d·l), with d before
// rounding (index 8 where d·l is 0).
func quantizeIQ4_XS(dst []byte, src []float32) {
	nb := len(src) / qkK
	dst = dst[:nb*blockIQ4_XS]
	var (
		w      [32]float32
		scales [iq4_XSSubBlocks]float32
	)
	for i := 0; i < nb; i++ {
		x := src[i*qkK : (i+1)*qkK]
		b := dst[i*blockIQ4_XS : (i+1)*blockIQ4_XS]
		var maxScale, amax float32
		for j := range scales {
			xs := x[32*j : 32*j+32]
			iq4Weights(w[:], xs)
			scales[j] = iq4Scale(xs, w[:])
			if a := abs32(scales[j]); a > amax {
				amax, maxScale = a, scales[j]
			}
		}
		d := -maxScale / 32
		putF16(b, d)
		var id float32
		if d != 0 {
			id = 1 / d
		}
		var scalesH uint16
		scalesL := b[iq4_XSScLOffs:iq4_XSQsOffs]
		clear(scalesL)
		for j := range scales {
			l := clampInt(nearestInt(float32(id*scales[j])), -32, 31)
			iq4PackGroup(b[iq4_XSQsOffs+16*j:], x[32*j:32*j+32], float32(d*float32(l)))
			ls := uint8(l + 32)
			scalesL[j/2] |= (ls & 0xf) << (4 * (j % 2))
			scalesH |= uint16(ls>>4) << (2 * j)
		}
		binary.LittleEndian.PutUint16(b[iq4_XSScHOffs:], scalesH)
	}
}

func dequantizeIQ4_XS(dst []float32, src []byte) {
	nb := len(dst) / qkK
	src = src[:nb*blockIQ4_XS]
	for i := 0; i < nb; i++ {
		b := src[i*blockIQ4_XS : (i+1)*blockIQ4_XS]
		d := getF16(b)
		y := dst[i*qkK : (i+1)*qkK]
		for j := 0; j < iq4_XSSubBlocks; j++ {
			dl := d * float32(iq4XSScale(b, j))
			qs := b[iq4_XSQsOffs+16*j : iq4_XSQsOffs+16*j+16]
			for l, q := range qs {
				y[32*j+l] = dl * float32(iq4Levels[q&0xf])
				y[32*j+l+16] = dl * float32(iq4Levels[q>>4])
			}
		}
	}
}

// dotIQ4_XS (IQ4_XS × Q8_K): per block the exact integer sum
// isum = Σ_j (ls_j − 32)·Σ_i level_i·a_i over the 8 sub-blocks, then, as
// dotQ6_K, sum += (d·d_a)·isum in float32, blocks in order.
func dotIQ4_XS(w, a []byte, n int) float32 {
	nb := n / qkK
	w, a = w[:nb*blockIQ4_XS], a[:nb*blockQ8_K]
	var sum float32
	for i := 0; i < nb; i++ {
		bw := w[i*blockIQ4_XS : (i+1)*blockIQ4_XS]
		ba := a[i*blockQ8_K : (i+1)*blockQ8_K]
		qa := ba[q8_KQsOffs:q8_KBsumsOffs]
		var isum int32
		for j := 0; j < iq4_XSSubBlocks; j++ {
			isum += iq4XSScale(bw, j) * iq4GroupDot(bw[iq4_XSQsOffs+16*j:], qa[32*j:])
		}
		sum += float32(float32(getF16(bw)*getF32(ba)) * float32(isum))
	}
	return sum
}
