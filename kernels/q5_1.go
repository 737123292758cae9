package kernels

import "encoding/binary"

// Q5_1 block (24 bytes, 32 values): fp16 scale d, fp16 min m, a little-endian
// uint32 qh of fifth bits, then 16 bytes of low nibbles, as Q5_0; value j is
// q[j]*d + m.
const (
	qk5_1      = 32
	blockQ5_1  = 2 + 2 + 4 + qk5_1/2
	q5_1QhOffs = 4
	q5_1QsOffs = 8
)

// quantizeQ5_1 is ggml's quantize_row_q5_1_ref: d = (max-min)/31, m = min,
// q = min(31, trunc((x-min)*(1/d) + 0.5)).
func quantizeQ5_1(dst []byte, src []float32) {
	nb := len(src) / qk5_1
	dst = dst[:nb*blockQ5_1]
	var q [32]int32
	for i := 0; i < nb; i++ {
		x := src[i*qk5_1 : (i+1)*qk5_1]
		b := dst[i*blockQ5_1 : (i+1)*blockQ5_1]
		lo, hi := minMax(x)
		d := (hi - lo) / 31
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		putF16(b[2:], lo)
		for j, v := range x {
			q[j] = truncClamp(float32((v-lo)*id)+0.5, 31)
		}
		binary.LittleEndian.PutUint32(b[q5_1QhOffs:], packQ5(b[q5_1QsOffs:], &q))
	}
}

func dequantizeQ5_1(dst []float32, src []byte) {
	nb := len(dst) / qk5_1
	src = src[:nb*blockQ5_1]
	var q [32]int32
	for i := 0; i < nb; i++ {
		b := src[i*blockQ5_1 : (i+1)*blockQ5_1]
		d, m := getF16(b), getF16(b[2:])
		unpackQ5(&q, binary.LittleEndian.Uint32(b[q5_1QhOffs:]), b[q5_1QsOffs:blockQ5_1])
		y := dst[i*qk5_1 : (i+1)*qk5_1]
		for j := range y {
			y[j] = float32(float32(q[j])*d) + m
		}
	}
}

// dotQ5_1 (Q5_1 × Q8_1): as dotQ4_1, with 5-bit values.
func dotQ5_1(w, a []byte, n int) float32 {
	nb := n / qk5_1
	w, a = w[:nb*blockQ5_1], a[:nb*blockQ8_1]
	var acc blockLanes
	var offsets float32
	var q [32]int32
	var qw, qa [32]int8
	for i := 0; i < nb; i++ {
		bw := w[i*blockQ5_1 : (i+1)*blockQ5_1]
		ba := a[i*blockQ8_1 : (i+1)*blockQ8_1]
		unpackQ5(&q, binary.LittleEndian.Uint32(bw[q5_1QhOffs:]), bw[q5_1QsOffs:blockQ5_1])
		for j := range qw {
			qw[j], qa[j] = int8(q[j]), int8(ba[q8_1QsOffs+j])
		}
		acc.add(getF16(bw)*getF16(ba), &qw, &qa)
		offsets += getF16(bw[2:]) * getF16(ba[2:])
	}
	return acc.sum() + offsets
}
