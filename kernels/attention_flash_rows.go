package kernels

import (
	"encoding/binary"
	"fmt"
)

// Flash attention reading an F16 KV cache in place. AttnFlashF16 takes the
// keys and values as float32 rows, which costs a converted copy of the KV
// head per query row: at long contexts the copy's memory traffic (two
// float32 bytes written and read back for each F16 byte of the cache) is
// most of the time. The kernels here convert each F16 vector as they load
// it, which is exact, so the bits are AttnFlashF16's.

// The AVX-512 kernels where the machine has them (set up at start-up):
// attnScoresF16AVX512 and attnAccumulateF16AVX512 with F16 rows, strides in
// bytes.
var (
	attnScoresF16RowsFast     func(dst, q *float32, k *byte, kStride, nt, hd int)
	attnAccumulateF16RowsFast func(out, ms, vs *float32, v *byte, vStride, nt, hd int)
)

// AttnFlashF16Rows is AttnFlashF16 with the nt keys and values as F16 rows
// of len(q) values, kStride and vStride bytes apart (one head of a KV cache's
// rows), read in place.
func AttnFlashF16Rows(out, q []float32, k []byte, kStride int, v []byte, vStride, nt int, scale, softCap float32, scores, ms, vs []float32) {
	hd := len(q)
	if len(out) != hd || hd == 0 || nt <= 0 || kStride < 2*hd || vStride < 2*hd || len(k) < (nt-1)*kStride+2*hd ||
		len(v) < (nt-1)*vStride+2*hd || len(scores) < nt || len(ms) < nt || len(vs) < nt {
		panic(fmt.Sprintf("kernels: AttnFlashF16Rows: %d keys of %d values (strides %d, %d bytes) do not fit (out %d, k %d, v %d, scratch %d/%d/%d)",
			nt, hd, kStride, vStride, len(out), len(k), len(v), len(scores), len(ms), len(vs)))
	}
	attnScoresF16Rows(scores[:nt], q, k, kStride)
	sum := FlashWeights(ms[:nt], vs[:nt], scores[:nt], scale, softCap)
	attnAccumulateF16Rows(out, ms[:nt], vs[:nt], v, vStride)
	inv := float32(0)
	if sum != 0 {
		inv = 1 / sum
	}
	for d := range out {
		out[d] *= inv
	}
}

// attnScoresF16Rows is AttnScoresF16 on F16 key rows kStride bytes apart.
func attnScoresF16Rows(dst, q []float32, k []byte, kStride int) {
	hd := len(q)
	if attnScoresF16RowsFast != nil && hd%64 == 0 {
		attnScoresF16RowsFast(&dst[0], &q[0], &k[0], kStride, len(dst), hd)
		return
	}
	attnScoresF16RowsGo(dst, q, k, kStride)
}

// attnScoresF16RowsGo is the twin: each row converted, then attnScoresF16.
func attnScoresF16RowsGo(dst, q []float32, k []byte, kStride int) {
	hd := len(q)
	key := make([]float32, hd)
	for t := range dst {
		dequantizeF16(key, k[t*kStride:t*kStride+2*hd])
		attnScoresF16(dst[t:t+1], q, key, hd)
	}
}

// attnAccumulateF16Rows is AttnAccumulateF16 on F16 value rows vStride
// bytes apart: the accumulator starts at zero and ends in out.
func attnAccumulateF16Rows(out, ms, vs []float32, v []byte, vStride int) {
	hd := len(out)
	clear(out)
	if attnAccumulateF16RowsFast != nil && hd%16 == 0 {
		attnAccumulateF16RowsFast(&out[0], &ms[0], &vs[0], &v[0], vStride, len(ms), hd)
		return
	}
	attnAccumulateF16RowsGo(out, ms, vs, v, vStride)
}

// attnAccumulateF16RowsGo is the twin: attnAccumulateF16 one converted row
// at a time, folding into the accumulator already in out.
func attnAccumulateF16RowsGo(out, ms, vs []float32, v []byte, vStride int) {
	hd := len(out)
	row := make([]float32, hd)
	for t := range ms {
		for d := range row {
			row[d] = F16ToF32(binary.LittleEndian.Uint16(v[t*vStride+2*d:]))
		}
		attnAccumulateF16(out, ms[t:t+1], vs[t:t+1], row, hd)
	}
}
