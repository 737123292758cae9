package kernels

import (
	"encoding/binary"
	"math"
)

// Q8_0 block (34 bytes, 32 values): fp16 scale d, then 32 int8 quants q;
// value j is q[j]*d.
const (
	qk8_0      = 32
	blockQ8_0  = 2 + qk8_0
	q8_0QsOffs = 2
)

// putF16 stores f as a little-endian binary16 at b[0:2].
func putF16(b []byte, f float32) { binary.LittleEndian.PutUint16(b, F32ToF16(f)) }

// getF16 reads a little-endian binary16 at b[0:2] as float32.
func getF16(b []byte) float32 { return F16ToF32(binary.LittleEndian.Uint16(b)) }

// roundf rounds half away from zero, as C's roundf.
func roundf(x float32) float32 { return float32(math.Round(float64(x))) }

// absMax returns the largest |x| of xs (0 for an empty or all-zero slice).
func absMax(xs []float32) float32 {
	var amax float32
	for _, v := range xs {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax = a
		}
	}
	return amax
}

// quantizeQ8_0 is ggml's quantize_row_q8_0_ref: d = max|x|/127, q = round(x/d)
// computed as roundf(x * (1/d)), d stored as fp16.
func quantizeQ8_0(dst []byte, src []float32) {
	nb := len(src) / qk8_0
	dst = dst[:nb*blockQ8_0]
	for i := 0; i < nb; i++ {
		x := src[i*qk8_0 : (i+1)*qk8_0]
		b := dst[i*blockQ8_0 : (i+1)*blockQ8_0]
		d := absMax(x) / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		for j, v := range x {
			b[q8_0QsOffs+j] = byte(int8(roundf(v * id)))
		}
	}
}

func dequantizeQ8_0(dst []float32, src []byte) { dequantizeInt8Blocks(dst, src, blockQ8_0, q8_0QsOffs) }

// dequantizeInt8Blocks reads blocks of 32 int8 values at qsOffs, each scaled by
// the block's leading fp16 d (Q8_0 and Q8_1, which differ only in layout).
func dequantizeInt8Blocks(dst []float32, src []byte, blockBytes, qsOffs int) {
	nb := len(dst) / qk8_0
	src = src[:nb*blockBytes]
	for i := 0; i < nb; i++ {
		b := src[i*blockBytes : (i+1)*blockBytes]
		d := getF16(b)
		y := dst[i*qk8_0 : (i+1)*qk8_0]
		for j := range y {
			y[j] = float32(int8(b[qsOffs+j])) * d
		}
	}
}

// dotQ8_0 (Q8_0 × Q8_0): per block the exact integer sum of products, then
// one fused multiply-add of it with d_w*d_a into a single float accumulator,
// block after block: the order of llama.cpp's AMX kernels, and one that
// matrix tiles (AMX, VNNI) compute without any per-lane float work.
func dotQ8_0(w, a []byte, n int) float32 {
	nb := n / qk8_0
	w, a = w[:nb*blockQ8_0], a[:nb*blockQ8_0]
	var acc float32
	for i := 0; i < nb; i++ {
		bw := w[i*blockQ8_0 : (i+1)*blockQ8_0]
		ba := a[i*blockQ8_0 : (i+1)*blockQ8_0]
		var isum int32
		for j := q8_0QsOffs; j < blockQ8_0; j++ {
			isum += int32(int8(bw[j])) * int32(int8(ba[j]))
		}
		acc = blockFMA(getF16(bw)*getF16(ba), isum, acc)
	}
	return acc
}

// blockFMA folds one block into a dot product accumulated block by block:
// acc + scale*isum rounded once (isum is exact in float32: |isum| < 2^24).
func blockFMA(scale float32, isum int32, acc float32) float32 {
	return fma32(scale, float32(isum), acc)
}
