package kernels

import (
	"encoding/binary"
	"sync"
	"unsafe"

	"github.com/conveyor-llm/conveyor/gguf"
)

//go:generate go run iq4xs_gen.go

// The IQ4_XS batch path (iq4xs_amd64.s, written by iq4xs_gen.go): DotTile's
// activation rows are packed once per call, 4 rows a group, into the order
// the weights take when a row's two 64-byte halves of nibbles are
// interleaved by quadwords, so that in every register dwords 4m, 4m+1 belong
// to sub-block m and 4m+2, 4m+3 to sub-block m+4. The 4x4 kernel then sums
// each (weight row, activation row) pair's levels·a per lane over the whole
// block with VPDPBUSD, starting from the packed −128·Σa corrections (the
// levels are stored +128), and applies the eight 6-bit scales with one
// VPMULLD per two pairs, instead of one per pair and sub-block. With 8
// activation rows or more, each group of 4 weight rows is unpacked once per
// call too (levels, scales by lane, d_w), and the kernel keeps two
// activation rows in registers at a time: it was bound by its loads. The
// integer isum is exact, so every output is dotIQ4_XS's bits. The AVX2 one-row dot
// (Format.Dot everywhere; the tiles where AVX-512 VNNI is missing) is exact
// too, in 16-bit products.

//go:noescape
func tileIQ4_XSPackedx4VNNI(w *byte, wstride int, a *byte, nb int, out *float32, ostride int)

//go:noescape
func tileIQ4_XSPackedWx4VNNI(w *byte, _ int, a *byte, nb int, out *float32, ostride int)

//go:noescape
func prepIQ4_XSW4VNNI(dst *byte, w *byte, wstride int, nb int)

//go:noescape
func packIQ4_XSRowVNNI(dst *byte, dd *byte, a *byte, nb int)

//go:noescape
func dotIQ4_XSAVX2(w *byte, a *byte, nb int) float32

//go:noescape
func dotIQ4_XSx4AVX2(w *byte, a *byte, astride int, nb int, out *float32, ostride int)

// iq4XSAVX2 are the AVX2 tiles: the 4x4 one weight row at a time against
// the 4 activation rows (the levels widened once for the four), the 4x1 the
// one-row dot.
var iq4XSAVX2 = tiles{
	x4: func(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int) {
		for j := 0; j < 4; j++ {
			dotIQ4_XSx4AVX2((*byte)(unsafe.Add(unsafe.Pointer(w), j*wstride)), a, astride, nb,
				(*float32)(unsafe.Add(unsafe.Pointer(out), 4*j)), ostride)
		}
	},
	x1: rowTiles(dotIQ4_XSAVX2).x1,
}

// Bytes per block of a packed group of 4 activation rows: each row's 256
// values in the kernel's order (4 registers of 64 bytes) and its 16
// correction dwords, then the 4 d_a, padded to a cache line. A packed group
// of 4 weight rows has the same shape: each row's levels (+128) in that
// order and its 16 scales by lane, then d_w by lane 4j+i.
const (
	iq4XSPackedA    = 1344
	iq4XSPackedRow  = 320
	iq4XSPackedCorr = 256
	iq4XSPackedD    = 1280
	// iq4XSPackWMin is the fewest activation rows the weights are unpacked
	// for once per call (below it each 4x4 tile unpacks its own).
	iq4XSPackWMin = 8
)

// packIQ4_XSActsVNNI is packIQ4_XSActs in assembly, with the corrections
// spread over each sub-block's dwords (the kernel adds them up before it
// scales them).
func packIQ4_XSActsVNNI(dst, a []byte, astride, nb int) {
	_ = dst[nb*iq4XSPackedA-1]
	_ = a[3*astride+nb*blockQ8_K-1]
	for i := 0; i < 4; i++ {
		packIQ4_XSRowVNNI(&dst[iq4XSPackedRow*i], &dst[iq4XSPackedD+4*i], &a[i*astride], nb)
	}
}

// packIQ4_XSActs packs 4 Q8_K activation rows (astride apart, nb blocks)
// into dst (nb*iq4XSPackedA bytes). Register v of a row holds, in its
// 128-bit chunk m, values 8v..8v+7 of sub-block m and then of sub-block
// m+4; the corrections are −128 times each sub-block's sum, in dword 4m
// (sub-block m) and 4m+2 (m+4), the other dwords 0.
func packIQ4_XSActs(dst, a []byte, astride, nb int) {
	for b := 0; b < nb; b++ {
		blk := dst[b*iq4XSPackedA : (b+1)*iq4XSPackedA]
		for i := 0; i < 4; i++ {
			src := a[i*astride+b*blockQ8_K : i*astride+(b+1)*blockQ8_K]
			qs := src[q8_KQsOffs : q8_KQsOffs+qkK]
			row := blk[iq4XSPackedRow*i : iq4XSPackedRow*(i+1)]
			for v := 0; v < 4; v++ {
				for m := 0; m < 4; m++ {
					o := 64*v + 16*m
					copy(row[o:o+8], qs[32*m+8*v:])
					copy(row[o+8:o+16], qs[32*(m+4)+8*v:])
				}
			}
			corr := row[iq4XSPackedCorr:]
			clear(corr)
			for s := 0; s < iq4_XSSubBlocks; s++ {
				var sum int32
				for _, q := range qs[32*s : 32*s+32] {
					sum += int32(int8(q))
				}
				lane := 4*(s%4) + 2*(s/4)
				binary.LittleEndian.PutUint32(corr[4*lane:], uint32(-128*sum))
			}
			copy(blk[iq4XSPackedD+4*i:iq4XSPackedD+4*i+4], src[:4])
		}
	}
}

var iq4XSPackPool sync.Pool

// iq4XSDotTile is IQ4_XS's batch tiler: the weight rows in groups of 4
// (unpacked once per call when there are iq4XSPackWMin activation rows or
// more, so each 4x4 tile finds levels, scales and d_w ready) against the
// activation rows packed in groups of 4, the last na%4 rows through the 4x1
// tile kernel.
func iq4XSDotTile(dst []float32, dstStride int, w []byte, wStride, nw int, a []byte, aStride, na int, n int) int {
	nb := n / qkK
	nw4, na4 := nw&^3, na&^3
	if nb == 0 || nw4 == 0 || na4 == 0 {
		return 0
	}
	aLen := nb * iq4XSPackedA
	packW := na4 >= iq4XSPackWMin
	need := (na4/4 + 1) * aLen
	bufp, _ := iq4XSPackPool.Get().(*[]byte)
	if bufp == nil || cap(*bufp) < need {
		b := make([]byte, need)
		bufp = &b
	}
	wp, ap := (*bufp)[:aLen], (*bufp)[aLen:need]
	for i := 0; i < na4; i += 4 {
		packIQ4_XSActsVNNI(ap[i/4*aLen:], a[i*aStride:], aStride, nb)
	}
	for j := 0; j < nw4; j += 4 {
		wj, k, ws := &w[j*wStride], tileIQ4_XSPackedx4VNNI, wStride
		if packW {
			prepIQ4_XSW4VNNI(&wp[0], wj, wStride, nb)
			wj, k = &wp[0], tileIQ4_XSPackedWx4VNNI
		}
		for i := 0; i < na4; i += 4 {
			k(wj, ws, &ap[i/4*aLen], nb, &dst[i*dstStride+j], dstStride)
		}
		wj = &w[j*wStride]
		for i := na4; i < na; i++ {
			tileIQ4_XSx1VNNI(wj, wStride, &a[i*aStride], aStride, nb, &dst[i*dstStride+j], dstStride)
		}
	}
	iq4XSPackPool.Put(bufp)
	return nw4
}

// iq4XSPackedWTile runs the 4x4 kernel on 4 weight rows packed here and 4
// already packed activation rows (for tests and benchmarks).
func iq4XSPackedWTile(dst []float32, dstStride int, w []byte, wStride int, packed []byte, nb int) {
	_ = w[3*wStride+nb*blockIQ4_XS-1]
	_ = packed[nb*iq4XSPackedA-1]
	_ = dst[3*dstStride+3]
	wp := make([]byte, nb*iq4XSPackedA)
	prepIQ4_XSW4VNNI(&wp[0], &w[0], wStride, nb)
	tileIQ4_XSPackedWx4VNNI(&wp[0], 0, &packed[0], nb, &dst[0], dstStride)
}

// iq4XSPackedTile runs the 4x4 packed kernel on 4 weight rows and 4
// already packed activation rows (for tests and benchmarks).
func iq4XSPackedTile(dst []float32, dstStride int, w []byte, wStride int, packed []byte, nb int) {
	_ = w[3*wStride+nb*blockIQ4_XS-1]
	_ = packed[nb*iq4XSPackedA-1]
	_ = dst[3*dstStride+3]
	tileIQ4_XSPackedx4VNNI(&w[0], wStride, &packed[0], nb, &dst[0], dstStride)
}

// iq4XSVNNI are the AVX-512 VNNI tile kernels on the standard layouts
// (smallq_amd64.s): the 4x1 tiles for decode and the batch path's last
// rows, the 4x4 for DotTile where the batch path is not set up.
var iq4XSVNNI = tiles{tileIQ4_XSx4VNNI, tileIQ4_XSx1VNNI}

func init() {
	f := formats[gguf.TypeIQ4_XS]
	switch {
	case hasSmallqVNNI:
		tileKernels[f] = iq4XSVNNI
		batchTilers[f] = iq4XSDotTile
	case hasAVX2:
		tileKernels[f] = iq4XSAVX2
	}
	// Dot is the one-row AVX2 kernel wherever it runs (on AVX-512 too: a
	// 4x1 tile with the row 4 times over does 4 times the work; measured
	// 2.7 → 9.4 GB/cpu-s).
	if hasAVX2 {
		f.Dot = kRowDot(dotIQ4_XSAVX2, blockIQ4_XS)
	}
}
