package kernels

import "encoding/binary"

// Q8_K block (292 bytes, 256 values): float32 scale d, 256 int8 quants q,
// then 16 int16 sums of each group of 16 quants (for the min terms of the
// K-quant dots); value j is q[j]*d. It is the activation type of every
// K-quant dot product.
const (
	blockQ8_K     = 4 + qkK + qkK/16*2
	q8_KQsOffs    = 4
	q8_KBsumsOffs = 4 + qkK
)

// quantizeQ8_K is ggml's quantize_row_q8_K_ref. The scale is signed: with max
// the value of largest magnitude (the first one), iscale = −127/max,
// q = min(127, nearest(iscale·x)) and d = 1/iscale. An all-zero block gets
// d = 0 and zero quants and sums (ggml leaves the sums unwritten). llama.cpp's
// x86 build quantizes activations with this same function (its
// quantize_row_q8_K calls the reference), so it serves for both.
func quantizeQ8_K(dst []byte, src []float32) {
	nb := len(src) / qkK
	dst = dst[:nb*blockQ8_K]
	for i := 0; i < nb; i++ {
		x := src[i*qkK : (i+1)*qkK]
		b := dst[i*blockQ8_K : (i+1)*blockQ8_K]
		var maxV, amax float32
		for _, v := range x {
			if ax := abs32(v); ax > amax {
				amax, maxV = ax, v
			}
		}
		if amax == 0 {
			clear(b)
			continue
		}
		iscale := -127 / maxV
		qs := b[q8_KQsOffs:q8_KBsumsOffs]
		for j, v := range x {
			qs[j] = byte(int8(min(127, nearestInt(float32(iscale*v)))))
		}
		for g := 0; g < qkK/16; g++ {
			var sum int16
			for _, q := range qs[g*16 : (g+1)*16] {
				sum += int16(int8(q))
			}
			binary.LittleEndian.PutUint16(b[q8_KBsumsOffs+2*g:], uint16(sum))
		}
		putF32(b, 1/iscale)
	}
}

func dequantizeQ8_K(dst []float32, src []byte) {
	nb := len(dst) / qkK
	src = src[:nb*blockQ8_K]
	for i := 0; i < nb; i++ {
		b := src[i*blockQ8_K : (i+1)*blockQ8_K]
		d := getF32(b)
		y := dst[i*qkK : (i+1)*qkK]
		for j := range y {
			y[j] = d * float32(int8(b[q8_KQsOffs+j]))
		}
	}
}

// q8KBsum is group g's stored sum of 16 quants.
func q8KBsum(b []byte, g int) int32 {
	return int32(int16(binary.LittleEndian.Uint16(b[q8_KBsumsOffs+2*g:])))
}

// dotQ8_K (Q8_K × Q8_K; ggml has no such kernel, it is here for
// completeness): per block an exact int32 sum, then sum += (d_w·d_a)·isum.
func dotQ8_K(w, a []byte, n int) float32 {
	nb := n / qkK
	w, a = w[:nb*blockQ8_K], a[:nb*blockQ8_K]
	var sum float32
	for i := 0; i < nb; i++ {
		bw := w[i*blockQ8_K : (i+1)*blockQ8_K]
		ba := a[i*blockQ8_K : (i+1)*blockQ8_K]
		qw := bw[q8_KQsOffs:q8_KBsumsOffs]
		qa := ba[q8_KQsOffs:q8_KBsumsOffs]
		var isum int32
		for j := 0; j < qkK; j++ {
			isum += int32(int8(qw[j])) * int32(int8(qa[j]))
		}
		sum += float32(float32(getF32(bw)*getF32(ba)) * float32(isum))
	}
	return sum
}

// abs32 is |v|.
func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
