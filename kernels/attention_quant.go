package kernels

import (
	"fmt"

	"github.com/conveyor-llm/conveyor/gguf"
)

// Flash attention over a block-quantized KV cache (Q8_0 or Q4_0 keys and
// values), as llama.cpp's CPU flash attention computes it for K and V types
// other than F16: the query head is quantized to the keys' dot type (Q8_0,
// as activations are: QuantizeActivations), each score is the keys' Format
// Dot with it, the online softmax is FlashWeights', and the accumulator is
// float32: for each key in order
//
//	acc = acc·ms   (when ms != 1: a new maximum)
//	acc = fma(v, vs, acc)   (v the value row dequantized to float32)
//
// and finally acc·(1/S). The attention shader computes the same bits.

// AttnFlashQuantGroup computes the attention of heads query heads that share
// one KV head: out (heads*hd) from q8 (the heads' queries in the keys' dot
// type, one after another, each DotType.RowBytes(hd) bytes), nt keys of kt
// and values of vt (each hd values, rows kStride and vStride bytes apart),
// the score scale and soft cap (0: none). scores, ms and vs are scratch of at
// least heads*nt values, vrow of hd.
func AttnFlashQuantGroup(out []float32, q8 []byte, heads int, kt gguf.Type, k []byte, kStride int,
	vt gguf.Type, v []byte, vStride, nt int, scale, softCap float32, scores, ms, vs, vrow []float32) {
	kf, err := FormatOf(kt)
	if err != nil {
		panic(err)
	}
	vf, err := FormatOf(vt)
	if err != nil {
		panic(err)
	}
	hd := len(out) / max(heads, 1)
	kBytes, vBytes := kt.RowBytes(hd), vt.RowBytes(hd)
	qBytes := kf.DotType.RowBytes(hd)
	if heads <= 0 || len(out) != heads*hd || hd%kt.BlockSize() != 0 || hd%vt.BlockSize() != 0 || nt <= 0 ||
		len(q8) < heads*qBytes || len(k) < (nt-1)*kStride+kBytes || len(v) < (nt-1)*vStride+vBytes ||
		len(scores) < heads*nt || len(ms) < heads*nt || len(vs) < heads*nt || len(vrow) < hd {
		panic(fmt.Sprintf("kernels: AttnFlashQuantGroup: %d heads of %d values over %d keys (%v/%v, strides %d/%d) do not fit (out %d, q %d, k %d, v %d)",
			heads, hd, nt, kt, vt, kStride, vStride, len(out), len(q8), len(k), len(v)))
	}
	var sumBuf [32]float32 // on the stack for up to 32 heads a KV head
	sums := sumBuf[:0]
	for h := 0; h < heads; h++ {
		qh := q8[h*qBytes : (h+1)*qBytes]
		sc := scores[h*nt : (h+1)*nt]
		quantScores(sc, kf, k, kStride, qh, hd)
		sums = append(sums, FlashWeights(ms[h*nt:(h+1)*nt], vs[h*nt:(h+1)*nt], sc, scale, softCap))
	}
	for h := 0; h < heads; h++ {
		acc := out[h*hd : (h+1)*hd]
		clear(acc)
		accumulateQuant(vf, acc, ms[h*nt:(h+1)*nt], vs[h*nt:(h+1)*nt], v, vStride, vrow[:hd])
	}
	for h, sum := range sums {
		inv := float32(0)
		if sum != 0 {
			inv = 1 / sum
		}
		for d := h * hd; d < (h+1)*hd; d++ {
			out[d] *= inv
		}
	}
}

// The scores and the values' conversion, chosen at start-up: AVX-512 for
// Q8_0 and Q4_0, or the Go twins, which define them.
var (
	quantScores     = quantScoresGo
	accumulateQuant = accumulateQuantGo
)

// quantScoresGo computes dst[t] = the Format's Dot of key t (k[t*kStride:],
// hd values) with the query q8.
func quantScoresGo(dst []float32, kf *Format, k []byte, kStride int, q8 []byte, hd int) {
	kBytes := kf.Type.RowBytes(hd)
	for t := range dst {
		dst[t] = kf.Dot(k[t*kStride:t*kStride+kBytes], q8, hd)
	}
}

// accumulateQuantGo runs the float32 accumulator over len(ms) value rows of
// vf (hd = len(out) values, vStride bytes apart), each converted to float32
// in row first: out = out·ms[t] when ms[t] != 1 (ggml_vec_scale_f32), then
// out = fma(v[t], vs[t], out) (ggml_vec_mad_f32).
func accumulateQuantGo(vf *Format, out, ms, vs []float32, v []byte, vStride int, row []float32) {
	hd := len(out)
	rowBytes := vf.Type.RowBytes(hd)
	row = row[:hd]
	for t, m := range ms {
		vf.Dequantize(row, v[t*vStride:t*vStride+rowBytes])
		if m != 1 {
			for d := range out {
				out[d] *= m
			}
		}
		for d, x := range row {
			out[d] = fma32(x, vs[t], out[d])
		}
	}
}
