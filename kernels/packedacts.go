package kernels

import (
	"fmt"
	"sync"
	"unsafe"
)

// actPacker is a batch tiler split in two, for formats whose batch kernels
// want the activation rows in their own layout: pack lays out a call's
// activation rows once (nil where the tiler would not use them), and tile
// is the batch tiler given them, so that a MatMul, calling DotTile for many
// stretches of weight rows, packs its activations once instead of per call.
type actPacker struct {
	pack func(buf *[]byte, a []byte, aStride, na, n int) []byte
	tile func(dst []float32, dstStride int, w []byte, wStride, nw int, a []byte, aStride, na, n int, packed []byte) int
}

// actPackers holds the formats that have an actPacker on this machine (set
// up at start-up; none by default).
var actPackers = map[*Format]actPacker{}

// PackedActs are activation rows (DotType's) made ready once by PackActs
// for many DotTilePacked calls. Its buffer is reused by the next PackActs.
type PackedActs struct {
	f              *Format
	a              []byte
	aStride, na, n int
	packed, buf    []byte
}

// PackActs readies the na activation rows of n values at a (aStride bytes
// apart) for f.DotTilePacked; p keeps a, which must not change until the
// last DotTilePacked.
func (f *Format) PackActs(p *PackedActs, a []byte, aStride, na, n int) {
	p.f, p.a, p.aStride, p.na, p.n, p.packed = f, a, aStride, na, n, nil
	if na <= 0 {
		return
	}
	if aRow := f.DotType.RowBytes(n); len(a) < (na-1)*aStride+aRow || aStride < aRow {
		panic(fmt.Sprintf("kernels: PackActs: %d rows of %d values do not fit (a %d/%d)", na, n, len(a), aStride))
	}
	if ap, ok := actPackers[f]; ok {
		p.packed = ap.pack(&p.buf, a, aStride, na, n)
	}
}

// DotTilePacked is f.DotTile(dst, dstStride, w, wStride, nw, a, aStride,
// na, n) for the activations p was readied with, bit for bit.
func (f *Format) DotTilePacked(dst []float32, dstStride int, w []byte, wStride, nw int, p *PackedActs) {
	if p.f != f {
		panic("kernels: DotTilePacked: activations packed for another format")
	}
	if p.packed == nil || nw <= 0 {
		f.DotTile(dst, dstStride, w, wStride, nw, p.a, p.aStride, p.na, p.n)
		return
	}
	na, n := p.na, p.n
	if wRow := f.Type.RowBytes(n); len(w) < (nw-1)*wStride+wRow || len(dst) < (na-1)*dstStride+nw ||
		wStride < wRow || dstStride < nw {
		panic(fmt.Sprintf("kernels: DotTilePacked: %d x %d tile of %d values does not fit (w %d/%d, dst %d/%d)",
			nw, na, n, len(w), wStride, len(dst), dstStride))
	}
	j := actPackers[f].tile(dst, dstStride, w, wStride, nw, p.a, p.aStride, na, n, p.packed)
	if j < nw {
		f.DotTile(dst[j:], dstStride, w[j*wStride:], wStride, nw-j, p.a, p.aStride, na, n)
	}
}

// alignedBuf returns n bytes starting on a 64-byte boundary, from *buf
// (grown if need be).
func alignedBuf(buf *[]byte, n int) []byte {
	if cap(*buf) < n+64 {
		*buf = make([]byte, n+64)
	}
	b := (*buf)[:n+64]
	off := int(-uintptr(unsafe.Pointer(&b[0])) & 63)
	return b[off : off+n]
}

// poolBuf is alignedBuf from a buffer of pool; put it back with pool.Put.
func poolBuf(pool *sync.Pool, n int) (*[]byte, []byte) {
	bufp, _ := pool.Get().(*[]byte)
	if bufp == nil {
		bufp = new([]byte)
	}
	return bufp, alignedBuf(bufp, n)
}
