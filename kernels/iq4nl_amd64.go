package kernels

import (
	"sync"

	"github.com/conveyor-llm/conveyor/gguf"
)

//go:generate go run iq4nl_gen.go

// The IQ4_NL batch path (iq4nl_amd64.s, written by iq4nl_gen.go). Each
// output of a block of 32 values is one integer sum and one FMA
// (dotIQ4_NL), so the 4x4 tiles on the standard layouts spend most of their
// time folding each pair's 32 products into one lane. Here each (weight
// row j, activation row i) pair of a group of 4 by 4 has lane 4j+i from the
// start: the activation rows are packed once per call, 4 rows a group, as 8
// chunks of 16 bytes (row i's quants 4k..4k+3 in dword i, plus 128 so they
// are the unsigned operand), and each group of 4 weight rows is decoded
// once per call into 8 chunks of 64 bytes (row j's levels 4k..4k+3 in lanes
// 4j..4j+3, signed), with −128·Σlevels per row and d_w by lane. A chunk
// broadcast to the four 128-bit lanes against a weight chunk is then one
// VPDPBUSD for all 16 pairs, and a block's 8 leave each pair's exact isum in
// its lane: no reduction, one conversion and one FMA with d_w·d_a (an exact
// product of fp16 values) for the 16 outputs, each dotIQ4_NL's bits. The
// main kernel takes 8 weight rows by 8 activation rows, loading each
// weight chunk once for two groups of activations. (Making the weights the
// unsigned operand instead, with the corrections packed with the
// activations, saves the weight decoding 8 VPDPBUSD a block: 8% faster at 8
// activation rows, 4% slower at 64.)
//
// The weights are decoded a span of blocks at a time, so that what the
// kernel reads again for every group of activation rows stays in the L1
// cache (at 2048 values a row, decoding whole rows ran at 72 GMAC per CPU
// second, spans of 16 blocks at 106, with the 4x4 kernel).

//go:noescape
func prepIQ4_NLW4VNNI(dst *byte, w *byte, wstride int, nb int)

//go:noescape
func packIQ4_NLA4VNNI(dst *byte, a *byte, astride int, nb int)

//go:noescape
func tileIQ4_NLPacked4x4VNNI(w *byte, wstride int, a *byte, nb int, out *float32, ostride int, acc int)

//go:noescape
func tileIQ4_NLPacked8x4VNNI(w *byte, wstride int, a *byte, nb int, out *float32, ostride int, acc int)

//go:noescape
func tileIQ4_NLPacked8x8VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int, acc int)

//go:noescape
func prepIQ4_NLW4AVX2(dst *byte, w *byte, wstride int, nb int)

//go:noescape
func tileIQ4_NLPackedWx4AVX2(w *byte, a *byte, astride int, nb int, out *float32, ostride int)

// Bytes per block of 32 values of a packed group of 4 rows.
const (
	iq4NLPackedW = 640
	iq4NLPackedA = 144
	// iq4NLPackedWAVX2 is the AVX2 layout's: the 4 rows' levels, then d_w.
	iq4NLPackedWAVX2 = 144
	// iq4NLPackMin is the fewest activation rows the batch path takes:
	// below it (decode, small batches) the weights would be decoded for
	// too few tiles to repay it.
	iq4NLPackMin = 8
	// iq4NLSpan is the most blocks a weight group is packed for at a
	// time: iq4NLWGroups such groups take 20 KiB.
	iq4NLSpan = 16
	// iq4NLWGroups is how many groups of 4 weight rows are decoded at a
	// time, for the 8x8 kernel (or 8x4, for a last group of 4 activation
	// rows).
	iq4NLWGroups = 2
)

var iq4NLPackPool sync.Pool

// iq4NLPackA packs the groups of 4 of the na activation rows (Q8_0, aStride
// apart, nb blocks) into ap.
func iq4NLPackA(ap []byte, a []byte, aStride, na, nb int) {
	aLen := nb * iq4NLPackedA
	_ = ap[na/4*aLen-1]
	for i := 0; i < na&^3; i += 4 {
		_ = a[(i+3)*aStride+nb*blockQ8_0-1]
		packIQ4_NLA4VNNI(&ap[i/4*aLen], &a[i*aStride], aStride, nb)
	}
}

// iq4NLDotTile is the batch tiler: the activation rows packed, then the
// weight rows 8 at a time (4 for the last ones), decoded once per call span
// by span, against every packed group of activation rows, two groups at a
// time; the last na%4 activation rows go through the 4x1 tile kernel on the
// standard layouts.
func iq4NLDotTile(dst []float32, dstStride int, w []byte, wStride, nw int, a []byte, aStride, na int, n int) int {
	nb := n / qkIQ4_NL
	if nb == 0 || nw&^3 == 0 || na&^3 < iq4NLPackMin {
		return 0
	}
	aLen := na &^ 3 / 4 * nb * iq4NLPackedA
	wLen := iq4NLWGroups * min(nb, iq4NLSpan) * iq4NLPackedW
	bufp, buf := poolBuf(&iq4NLPackPool, wLen+aLen)
	ap := buf[wLen:]
	iq4NLPackA(ap, a, aStride, na, nb)
	iq4NLTiles(dst, dstStride, w, wStride, nw, a, aStride, na, nb, ap, buf[:wLen])
	iq4NLPackPool.Put(bufp)
	return nw &^ 3
}

// iq4NLPackActs is the actPacker's pack: the groups of 4 activation rows,
// packed (nil where the batch path would not run).
func iq4NLPackActs(buf *[]byte, a []byte, aStride, na, n int) []byte {
	nb := n / qkIQ4_NL
	if nb == 0 || na&^3 < iq4NLPackMin {
		return nil
	}
	ap := alignedBuf(buf, na&^3/4*nb*iq4NLPackedA)
	iq4NLPackA(ap, a, aStride, na, nb)
	return ap
}

// iq4NLDotTilePackedA is the actPacker's tile: iq4NLDotTile with the
// activations packed by iq4NLPackActs.
func iq4NLDotTilePackedA(dst []float32, dstStride int, w []byte, wStride, nw int, a []byte, aStride, na, n int, ap []byte) int {
	nb := n / qkIQ4_NL
	if nb == 0 || nw&^3 == 0 {
		return 0
	}
	bufp, wp := poolBuf(&iq4NLPackPool, iq4NLWGroups*min(nb, iq4NLSpan)*iq4NLPackedW)
	iq4NLTiles(dst, dstStride, w, wStride, nw, a, aStride, na, nb, ap, wp)
	iq4NLPackPool.Put(bufp)
	return nw &^ 3
}

// iq4NLTiles computes the outputs of the first nw&^3 weight rows, with the
// activations packed in ap and room for iq4NLWGroups packed weight groups
// of iq4NLSpan blocks in wp. The blocks are taken a span at a time, so that
// the packed weights of the span stay in the L1 cache while every group of
// activation rows passes them; the kernels carry each output's accumulator
// from one span to the next through dst, which keeps the FMAs in block
// order.
func iq4NLTiles(dst []float32, dstStride int, w []byte, wStride, nw int, a []byte, aStride, na, nb int, ap, wp []byte) {
	aLen := nb * iq4NLPackedA
	nw4, na4 := nw&^3, na&^3
	spans := (nb + iq4NLSpan - 1) / iq4NLSpan
	span := (nb + spans - 1) / spans
	gLen := span * iq4NLPackedW
	_ = ap[na4/4*aLen-1]
	_ = wp[iq4NLWGroups*gLen-1]
	_ = w[(nw4-1)*wStride+nb*blockIQ4_NL-1]
	_ = dst[(na-1)*dstStride+nw4-1]
	for j := 0; j < nw4; {
		g := min(iq4NLWGroups, (nw4-j)/4)
		k := tileIQ4_NLPacked4x4VNNI
		if g == 2 {
			k = tileIQ4_NLPacked8x4VNNI
		}
		for b0 := 0; b0 < nb; b0 += span {
			sb := min(span, nb-b0)
			for q := 0; q < g; q++ {
				prepIQ4_NLW4VNNI(&wp[q*gLen], &w[(j+4*q)*wStride+b0*blockIQ4_NL], wStride, sb)
			}
			i := 0
			if g == 2 {
				for ; i+8 <= na4; i += 8 {
					tileIQ4_NLPacked8x8VNNI(&wp[0], gLen, &ap[i/4*aLen+b0*iq4NLPackedA], aLen, sb, &dst[i*dstStride+j], dstStride, b0)
				}
			}
			for ; i < na4; i += 4 {
				k(&wp[0], gLen, &ap[i/4*aLen+b0*iq4NLPackedA], sb, &dst[i*dstStride+j], dstStride, b0)
			}
		}
		for q := 0; q < g; q++ {
			wj := &w[(j+4*q)*wStride]
			for i := na4; i < na; i++ {
				tileIQ4_NLx1VNNI(wj, wStride, &a[i*aStride], aStride, nb, &dst[i*dstStride+j+4*q], dstStride)
			}
		}
		j += 4 * g
	}
}

// iq4NLDotTileAVX2 is the batch tiler where AVX-512 VNNI is missing: each
// group of 4 weight rows decoded once per call, then the AVX2 4x4 kernel
// against the activation rows in place, the last na%4 through the 4x1
// tile kernel on the standard layouts.
func iq4NLDotTileAVX2(dst []float32, dstStride int, w []byte, wStride, nw int, a []byte, aStride, na int, n int) int {
	nb := n / qkIQ4_NL
	nw4, na4 := nw&^3, na&^3
	if nb == 0 || nw4 == 0 || na4 < iq4NLPackMin {
		return 0
	}
	_ = w[(nw4-1)*wStride+nb*blockIQ4_NL-1]
	_ = a[(na-1)*aStride+nb*blockQ8_0-1]
	_ = dst[(na-1)*dstStride+nw4-1]
	bufp, wp := poolBuf(&iq4NLPackPool, nb*iq4NLPackedWAVX2)
	for j := 0; j < nw4; j += 4 {
		prepIQ4_NLW4AVX2(&wp[0], &w[j*wStride], wStride, nb)
		for i := 0; i < na4; i += 4 {
			tileIQ4_NLPackedWx4AVX2(&wp[0], &a[i*aStride], aStride, nb, &dst[i*dstStride+j], dstStride)
		}
		for i := na4; i < na; i++ {
			tileIQ4_NLx1AVX2(&w[j*wStride], wStride, &a[i*aStride], aStride, nb, &dst[i*dstStride+j], dstStride)
		}
	}
	iq4NLPackPool.Put(bufp)
	return nw4
}

func init() {
	f := formats[gguf.TypeIQ4_NL]
	switch {
	case hasSmallqVNNI:
		batchTilers[f] = iq4NLDotTile
		actPackers[f] = actPacker{iq4NLPackActs, iq4NLDotTilePackedA}
	case hasSmallqAVX2:
		batchTilers[f] = iq4NLDotTileAVX2
	}
}
