package kernels

import "fmt"

// tileKernel computes a tile of 4 weight rows (w, w+wstride, ...) by 4 or 1
// activation rows (a, a+astride, ...) over nb blocks: out[i*ostride+j] is
// row j of w dotted with row i of a, bit for bit as Format.Dot.
type tileKernel func(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

// tiles are a format's tile kernels: x4 for 4x4 tiles, x1 for 4x1.
type tiles struct{ x4, x1 tileKernel }

// tileKernels holds the formats that have tile kernels on this machine (set
// up at start-up; none by default).
var tileKernels = map[*Format]tiles{}

// batchTiler computes DotTile's outputs for the first weight rows of a call,
// as many as suit it (none, for a batch too small to gain from it), and
// returns how many rows it did; DotTile does the rest. A format has one in
// place of tile kernels when its kernels want the activations in another
// layout than DotType's rows (F16: float32 values, pass-major), converted
// once per call.
type batchTiler func(dst []float32, dstStride int, w []byte, wStride, nw int, a []byte, aStride, na int, n int) int

// batchTilers holds the formats that have a batch tiler on this machine (set
// up at start-up; none by default).
var batchTilers = map[*Format]batchTiler{}

// DotTile computes dst[i*dstStride+j] = f.Dot(w[j*wStride:], a[i*aStride:], n)
// for the nw weight rows j and na activation rows i, each output bit for bit
// as Dot gives it: tiles share loads between outputs, never their
// arithmetic. Weight rows are taken 4 at a time against 4 activation rows
// (or 1) where the machine has a tile kernel, so each weight block is read
// once per 4 activation rows; a format with a batch tiler (F16) does its own
// tiling first.
func (f *Format) DotTile(dst []float32, dstStride int, w []byte, wStride, nw int, a []byte, aStride, na int, n int) {
	if nw <= 0 || na <= 0 {
		return
	}
	wRow, aRow := f.Type.RowBytes(n), f.DotType.RowBytes(n)
	if len(w) < (nw-1)*wStride+wRow || len(a) < (na-1)*aStride+aRow || len(dst) < (na-1)*dstStride+nw ||
		wStride < wRow || aStride < aRow || dstStride < nw {
		panic(fmt.Sprintf("kernels: DotTile: %d x %d tile of %d values does not fit (w %d/%d, a %d/%d, dst %d/%d)",
			nw, na, n, len(w), wStride, len(a), aStride, len(dst), dstStride))
	}
	j := 0
	if bt := batchTilers[f]; bt != nil {
		j = bt(dst, dstStride, w, wStride, nw, a, aStride, na, n)
	}
	t, fast := tileKernels[f]
	nb := n / f.Type.BlockSize()
	if fast && nb > 0 {
		for ; j+4 <= nw; j += 4 {
			wj := &w[j*wStride]
			i := 0
			for ; i+4 <= na; i += 4 {
				t.x4(wj, wStride, &a[i*aStride], aStride, nb, &dst[i*dstStride+j], dstStride)
			}
			for ; i < na; i++ {
				t.x1(wj, wStride, &a[i*aStride], aStride, nb, &dst[i*dstStride+j], dstStride)
			}
		}
	}
	for ; j < nw; j++ {
		wj := w[j*wStride : j*wStride+wRow]
		for i := 0; i < na; i++ {
			dst[i*dstStride+j] = f.Dot(wj, a[i*aStride:i*aStride+aRow], n)
		}
	}
}
