package kernels

// Q8_1 block (36 bytes, 32 values): fp16 scale d, fp16 s = d·Σq (the block's
// sum, for the min term of Q4_1/Q5_1 dots), then 32 int8 quants q; value j is
// q[j]*d. It is the activation type of the Q4_1 and Q5_1 dot products.
const (
	qk8_1      = 32
	blockQ8_1  = 2 + 2 + qk8_1
	q8_1QsOffs = 4
)

// quantizeQ8_1 is ggml's quantize_row_q8_1_ref: as Q8_0, plus
// s = fp16(float32(Σq) * d).
func quantizeQ8_1(dst []byte, src []float32) {
	nb := len(src) / qk8_1
	dst = dst[:nb*blockQ8_1]
	for i := 0; i < nb; i++ {
		x := src[i*qk8_1 : (i+1)*qk8_1]
		b := dst[i*blockQ8_1 : (i+1)*blockQ8_1]
		d := absMax(x) / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		var sum int32
		for j, v := range x {
			q := int8(roundf(v * id))
			b[q8_1QsOffs+j] = byte(q)
			sum += int32(q)
		}
		putF16(b, d)
		putF16(b[2:], float32(sum)*d)
	}
}

func dequantizeQ8_1(dst []float32, src []byte) { dequantizeInt8Blocks(dst, src, blockQ8_1, q8_1QsOffs) }

// dotQ8_1 (Q8_1 × Q8_1; ggml has no such kernel, it is here for
// completeness): per block an exact int32 sum of q_w*q_a, then
// sum += (d_w*d_a)*isum in float32, blocks in order.
func dotQ8_1(w, a []byte, n int) float32 {
	nb := n / qk8_1
	w, a = w[:nb*blockQ8_1], a[:nb*blockQ8_1]
	var sum float32
	for i := 0; i < nb; i++ {
		bw := w[i*blockQ8_1 : (i+1)*blockQ8_1]
		ba := a[i*blockQ8_1 : (i+1)*blockQ8_1]
		qw := bw[q8_1QsOffs:blockQ8_1]
		qa := ba[q8_1QsOffs:blockQ8_1]
		var isum int32
		for j := 0; j < qk8_1; j++ {
			isum += int32(int8(qw[j])) * int32(int8(qa[j]))
		}
		sum += float32(float32(getF16(bw)*getF16(ba)) * float32(isum))
	}
	return sum
}
