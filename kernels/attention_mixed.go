package kernels

import (
	"fmt"

	"github.com/conveyor-llm/conveyor/gguf"
)

// Flash attention over keys and values of different types (llama.cpp's
// -ctk q8_0 -ctv f16 and the like). llama.cpp's CPU flash attention chooses
// the two halves apart: the keys' type decides the scores (the query
// converted to the keys' dot type: F16 for F16 keys, Q8_0 for Q8_0 and Q4_0
// keys), the values' type the accumulator (F16, rounded after every key, for
// F16 values; float32 over the dequantized rows otherwise). So each half is
// AttnFlashF16RowsGroup's or AttnFlashQuantGroup's, as the type says.

// FlashCacheType reports whether AttnFlashMixedGroup takes keys or values of
// t with heads of hd values: F16, or Q8_0 and Q4_0 heads of whole blocks.
func FlashCacheType(t gguf.Type, hd int) bool {
	switch t {
	case gguf.TypeF16:
		return hd > 0
	case gguf.TypeQ8_0, gguf.TypeQ4_0:
		return hd > 0 && hd%t.BlockSize() == 0
	}
	return false
}

// AttnFlashMixedGroup computes the attention of heads query heads that share
// one KV head: out (heads*hd) from q (the heads' float32 queries, one after
// another), nt keys of kt and values of vt (FlashCacheType; each hd values,
// rows kStride and vStride bytes apart), the score scale and soft cap (0:
// none). scores, ms and vs are scratch of at least heads*nt values, row of
// hd; qDot of the keys' dot type's hd values (2*hd bytes for F16 keys). With
// kt and vt both F16 its bits are AttnFlashF16RowsGroup's, with both
// quantized AttnFlashQuantGroup's.
func AttnFlashMixedGroup(out, q []float32, heads int, kt gguf.Type, k []byte, kStride int,
	vt gguf.Type, v []byte, vStride, nt int, scale, softCap float32, scores, ms, vs, row []float32, qDot []byte) {
	hd := len(out) / max(heads, 1)
	if heads <= 0 || len(out) != heads*hd || len(q) != len(out) || !FlashCacheType(kt, hd) || !FlashCacheType(vt, hd) || nt <= 0 ||
		len(k) < (nt-1)*kStride+kt.RowBytes(hd) || len(v) < (nt-1)*vStride+vt.RowBytes(hd) ||
		len(scores) < heads*nt || len(ms) < heads*nt || len(vs) < heads*nt || len(row) < hd {
		panic(fmt.Sprintf("kernels: AttnFlashMixedGroup: %d heads of %d values over %d keys (%v/%v, strides %d/%d) do not fit (out %d, q %d, k %d, v %d)",
			heads, hd, nt, kt, vt, kStride, vStride, len(out), len(q), len(k), len(v)))
	}
	var kf, vf *Format
	if kt != gguf.TypeF16 {
		kf = mustFormatOf(kt)
		if len(qDot) < kf.DotType.RowBytes(hd) {
			panic(fmt.Sprintf("kernels: AttnFlashMixedGroup: %d bytes of query scratch, %v keys of %d values need %d",
				len(qDot), kt, hd, kf.DotType.RowBytes(hd)))
		}
	}
	if vt != gguf.TypeF16 {
		vf = mustFormatOf(vt)
	}
	row = row[:hd]
	var sumBuf [32]float32 // on the stack for up to 32 heads a KV head
	sums := sumBuf[:0]
	for h := 0; h < heads; h++ {
		qh, sc := q[h*hd:(h+1)*hd], scores[h*nt:(h+1)*nt]
		if kf == nil {
			copy(row, qh)
			RoundToF16(row)
			attnScoresF16Rows(sc, row, k, kStride)
		} else {
			QuantizeActivations(kf.DotType, qDot, qh)
			quantScores(sc, kf, k, kStride, qDot, hd)
		}
		sums = append(sums, FlashWeights(ms[h*nt:(h+1)*nt], vs[h*nt:(h+1)*nt], sc, scale, softCap))
	}
	for h, sum := range sums {
		acc := out[h*hd : (h+1)*hd]
		clear(acc)
		if vf == nil {
			attnAccumulateF16RowsOn(acc, ms[h*nt:(h+1)*nt], vs[h*nt:(h+1)*nt], v, vStride)
		} else {
			accumulateQuant(vf, acc, ms[h*nt:(h+1)*nt], vs[h*nt:(h+1)*nt], v, vStride, row)
		}
		inv := float32(0)
		if sum != 0 {
			inv = 1 / sum
		}
		for d := range acc {
			acc[d] *= inv
		}
	}
}

func mustFormatOf(t gguf.Type) *Format {
	f, err := FormatOf(t)
	if err != nil {
		panic(err)
	}
	return f
}
