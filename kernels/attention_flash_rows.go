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

// flashBlock is the keys a group of heads takes at a time: 128 rows of a
// head of 64 F16 values are 16 KiB, which stay in the L1 cache while every
// head of the group reads them.
const flashBlock = 128

// AttnFlashF16RowsGroup is AttnFlashF16Rows for heads query heads that share
// the keys and values (grouped-query attention): q and out hold the heads'
// vectors one after another, hd = len(q)/heads values each, and scores, ms
// and vs are scratch of heads*nt values. Each head's bits are
// AttnFlashF16Rows': a score depends on its key alone, and each head's
// accumulator takes its keys in order, but the heads take the keys a block
// at a time by turns, so that a block is read from memory once for the
// group rather than once per head.
func AttnFlashF16RowsGroup(out, q []float32, heads int, k []byte, kStride int, v []byte, vStride, nt int, scale, softCap float32, scores, ms, vs []float32) {
	if heads <= 0 || len(q)%heads != 0 || len(out) != len(q) || len(scores) < heads*nt || len(ms) < heads*nt || len(vs) < heads*nt {
		panic(fmt.Sprintf("kernels: AttnFlashF16RowsGroup: %d heads of %d values over %d keys do not fit (out %d, scratch %d/%d/%d)",
			heads, len(q), nt, len(out), len(scores), len(ms), len(vs)))
	}
	hd := len(q) / heads
	if hd == 0 || nt <= 0 || kStride < 2*hd || vStride < 2*hd || len(k) < (nt-1)*kStride+2*hd || len(v) < (nt-1)*vStride+2*hd {
		panic(fmt.Sprintf("kernels: AttnFlashF16RowsGroup: %d keys of %d values (strides %d, %d bytes) do not fit (k %d, v %d)",
			nt, hd, kStride, vStride, len(k), len(v)))
	}
	for b0 := 0; b0 < nt; b0 += flashBlock {
		b1 := min(b0+flashBlock, nt)
		for j := 0; j < heads; j++ {
			attnScoresF16Rows(scores[j*nt+b0:j*nt+b1], q[j*hd:(j+1)*hd], k[b0*kStride:], kStride)
		}
	}
	clear(out)
	for j := 0; j < heads; j++ {
		hs := scores[j*nt : (j+1)*nt]
		// The sum goes in the head's spare score slot (scores are done).
		hs[0] = FlashWeights(ms[j*nt:(j+1)*nt], vs[j*nt:(j+1)*nt], hs, scale, softCap)
	}
	for b0 := 0; b0 < nt; b0 += flashBlock {
		b1 := min(b0+flashBlock, nt)
		for j := 0; j < heads; j++ {
			attnAccumulateF16RowsOn(out[j*hd:(j+1)*hd], ms[j*nt+b0:j*nt+b1], vs[j*nt+b0:j*nt+b1], v[b0*vStride:], vStride)
		}
	}
	for j := 0; j < heads; j++ {
		inv := float32(0)
		if sum := scores[j*nt]; sum != 0 {
			inv = 1 / sum
		}
		for d := j * hd; d < (j+1)*hd; d++ {
			out[d] *= inv
		}
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
	var buf [256]float32 // on the stack: a decoded token allocates nothing
	key := buf[:]
	if hd > len(buf) {
		key = make([]float32, hd)
	}
	key = key[:hd]
	for t := range dst {
		dequantizeF16(key, k[t*kStride:t*kStride+2*hd])
		attnScoresF16(dst[t:t+1], q, key, hd)
	}
}

// attnAccumulateF16Rows is AttnAccumulateF16 on F16 value rows vStride
// bytes apart: the accumulator starts at zero and ends in out.
func attnAccumulateF16Rows(out, ms, vs []float32, v []byte, vStride int) {
	clear(out)
	attnAccumulateF16RowsOn(out, ms, vs, v, vStride)
}

// attnAccumulateF16RowsOn folds the rows into the accumulator already in out.
func attnAccumulateF16RowsOn(out, ms, vs []float32, v []byte, vStride int) {
	hd := len(out)
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
	var buf [256]float32
	row := buf[:]
	if hd > len(buf) {
		row = make([]float32, hd)
	}
	row = row[:hd]
	for t := range ms {
		for d := range row {
			row[d] = F16ToF32(binary.LittleEndian.Uint16(v[t*vStride+2*d:]))
		}
		attnAccumulateF16(out, ms[t:t+1], vs[t:t+1], row, hd)
	}
}
