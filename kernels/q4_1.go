package kernels

// Q4_1 block (20 bytes, 32 values): fp16 scale d, fp16 min m, then 16 bytes
// of 4-bit quants q laid out as in Q4_0; value j is q[j]*d + m.
const (
	qk4_1      = 32
	blockQ4_1  = 2 + 2 + qk4_1/2
	q4_1QsOffs = 4
)

// quantizeQ4_1 is ggml's quantize_row_q4_1_ref: d = (max-min)/15, m = min,
// q = min(15, trunc((x-min)*(1/d) + 0.5)).
func quantizeQ4_1(dst []byte, src []float32) {
	nb := len(src) / qk4_1
	dst = dst[:nb*blockQ4_1]
	for i := 0; i < nb; i++ {
		x := src[i*qk4_1 : (i+1)*qk4_1]
		b := dst[i*blockQ4_1 : (i+1)*blockQ4_1]
		lo, hi := minMax(x)
		d := (hi - lo) / 15
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		putF16(b[2:], lo)
		for j := 0; j < qk4_1/2; j++ {
			q0 := truncClamp(float32((x[j]-lo)*id)+0.5, 15)
			q1 := truncClamp(float32((x[j+qk4_1/2]-lo)*id)+0.5, 15)
			b[q4_1QsOffs+j] = byte(q0) | byte(q1)<<4
		}
	}
}

func dequantizeQ4_1(dst []float32, src []byte) {
	nb := len(dst) / qk4_1
	src = src[:nb*blockQ4_1]
	for i := 0; i < nb; i++ {
		b := src[i*blockQ4_1 : (i+1)*blockQ4_1]
		d, m := getF16(b), getF16(b[2:])
		y := dst[i*qk4_1 : (i+1)*qk4_1]
		for j := 0; j < qk4_1/2; j++ {
			q := b[q4_1QsOffs+j]
			y[j] = float32(float32(q&0xf)*d) + m
			y[j+qk4_1/2] = float32(float32(q>>4)*d) + m
		}
	}
}

// dotQ4_1 (Q4_1 × Q8_1): q_w*q_a products accumulated in lanes (see
// blockLanes) plus the offsets m_w*s_a summed separately in block order, the
// two added at the end, as llama.cpp's x86 build does.
func dotQ4_1(w, a []byte, n int) float32 {
	nb := n / qk4_1
	w, a = w[:nb*blockQ4_1], a[:nb*blockQ8_1]
	var acc blockLanes
	var offsets float32
	var qw, qa [32]int8
	for i := 0; i < nb; i++ {
		bw := w[i*blockQ4_1 : (i+1)*blockQ4_1]
		ba := a[i*blockQ8_1 : (i+1)*blockQ8_1]
		for j := 0; j < qk4_1/2; j++ {
			b := bw[q4_1QsOffs+j]
			qw[j], qw[j+qk4_1/2] = int8(b&0xf), int8(b>>4)
		}
		for j := range qa {
			qa[j] = int8(ba[q8_1QsOffs+j])
		}
		acc.add(getF16(bw)*getF16(ba), &qw, &qa)
		offsets += getF16(bw[2:]) * getF16(ba[2:])
	}
	return acc.sum() + offsets
}
