package kernels

import "encoding/binary"

// Q5_0 block (22 bytes, 32 values): fp16 scale d, a little-endian uint32 qh
// whose bit j is the fifth bit of value j, then 16 bytes holding the low four
// bits as in Q4_0; value j is (q[j]-16)*d.
const (
	qk5_0      = 32
	blockQ5_0  = 2 + 4 + qk5_0/2
	q5_0QhOffs = 2
	q5_0QsOffs = 6
)

// packQ5 stores 32 five-bit quants: the low nibbles into qs as Q4_0 does and
// the fifth bits into the returned qh.
func packQ5(qs []byte, q *[32]int32) uint32 {
	var qh uint32
	for j := 0; j < 16; j++ {
		q0, q1 := q[j], q[j+16]
		qs[j] = byte(q0&0xf) | byte(q1&0xf)<<4
		qh |= uint32(q0>>4&1)<<j | uint32(q1>>4&1)<<(j+16)
	}
	return qh
}

// unpackQ5 reads 32 five-bit quants (0..31) from qh and qs.
func unpackQ5(q *[32]int32, qh uint32, qs []byte) {
	for j := 0; j < 16; j++ {
		q[j] = int32(qs[j]&0xf) | int32(qh>>j&1)<<4
		q[j+16] = int32(qs[j]>>4) | int32(qh>>(j+16)&1)<<4
	}
}

// quantizeQ5_0 is ggml's quantize_row_q5_0_ref: max is the value of largest
// magnitude, d = max / -16, q = min(31, trunc(x*(1/d) + 16.5)).
func quantizeQ5_0(dst []byte, src []float32) {
	nb := len(src) / qk5_0
	dst = dst[:nb*blockQ5_0]
	var q [32]int32
	for i := 0; i < nb; i++ {
		x := src[i*qk5_0 : (i+1)*qk5_0]
		b := dst[i*blockQ5_0 : (i+1)*blockQ5_0]
		d := signedMax(x) / -16
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		for j, v := range x {
			q[j] = truncClamp(float32(v*id)+16.5, 31)
		}
		binary.LittleEndian.PutUint32(b[q5_0QhOffs:], packQ5(b[q5_0QsOffs:], &q))
	}
}

func dequantizeQ5_0(dst []float32, src []byte) {
	nb := len(dst) / qk5_0
	src = src[:nb*blockQ5_0]
	var q [32]int32
	for i := 0; i < nb; i++ {
		b := src[i*blockQ5_0 : (i+1)*blockQ5_0]
		d := getF16(b)
		unpackQ5(&q, binary.LittleEndian.Uint32(b[q5_0QhOffs:]), b[q5_0QsOffs:blockQ5_0])
		y := dst[i*qk5_0 : (i+1)*qk5_0]
		for j := range y {
			y[j] = float32(q[j]-16) * d
		}
	}
}

// dotQ5_0 (Q5_0 × Q8_0): values unpacked to q_w-16, then exact products summed
// and accumulated as llama.cpp's x86 build does (see blockLanes).
func dotQ5_0(w, a []byte, n int) float32 {
	nb := n / qk5_0
	w, a = w[:nb*blockQ5_0], a[:nb*blockQ8_0]
	var acc blockLanes
	var q [32]int32
	var qw, qa [32]int8
	for i := 0; i < nb; i++ {
		bw := w[i*blockQ5_0 : (i+1)*blockQ5_0]
		ba := a[i*blockQ8_0 : (i+1)*blockQ8_0]
		unpackQ5(&q, binary.LittleEndian.Uint32(bw[q5_0QhOffs:]), bw[q5_0QsOffs:blockQ5_0])
		for j := range qw {
			qw[j], qa[j] = int8(q[j]-16), int8(ba[q8_0QsOffs+j])
		}
		acc.add(getF16(bw)*getF16(ba), &qw, &qa)
	}
	return acc.sum()
}
