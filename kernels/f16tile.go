package kernels

import (
	"encoding/binary"
	"sync"
)

// F16 matrix tiles. dotF16 keeps 64 float32 lanes per output in four 16-lane
// registers r = 0..3; register r only ever meets values 64c+16r..64c+16r+15
// (chunk c) until the final reduction. So a tile can compute an output's
// four registers one after another, in four passes over the row, with one
// accumulator per output live at a time instead of four: 4 weight rows by 6
// activation rows fit the 32 vector registers, and each weight vector is
// converted from F16 once for 6 activation rows. The activations are
// converted to float32 once per DotTile call and stored tile by tile, in the
// order a tile reads them (pass by pass, chunk by chunk, the tile's rows'
// 16-value groups side by side), so that a pass reads one stream. Every
// output gets dotF16's operations in dotF16's order, so its bits are Dot's.

// f16Chunk is the values one step of dotF16 covers: four 16-lane registers.
const f16Chunk = 64

// f16PackedLen is the float32 values of one packed activation row: n values
// padded with zeros to whole chunks.
func f16PackedLen(n int) int {
	return (n + f16Chunk - 1) / f16Chunk * f16Chunk
}

// f16LastChunkMask has bit l set for each lane l (0..63) of the last chunk
// that holds a value of the row; n > 0.
func f16LastChunkMask(n int) uint64 {
	rem := n - (f16PackedLen(n) - f16Chunk)
	if rem == f16Chunk {
		return ^uint64(0)
	}
	return 1<<rem - 1
}

// packF16Tile converts one F16 row of n values to float32 for a tile of
// rows rows, into dst from the row's place in the tile: group r (values
// 64c+16r..+15) of chunk c at dst[(r*nc+c)*16*rows:], for nc chunks; values
// past n are zero. A tile of packed rows takes rows*f16PackedLen(n) values.
func packF16Tile(dst []float32, src []byte, n, rows int) {
	packTile16(F16ToF32, dst, src, n, rows)
}

// packTile16 is packF16Tile for any 16-bit float format, conv converting
// one value to float32.
func packTile16(conv func(uint16) float32, dst []float32, src []byte, n, rows int) {
	nc := f16PackedLen(n) / f16Chunk
	for c := 0; c < nc; c++ {
		for r := 0; r < 4; r++ {
			group := dst[(r*nc+c)*16*rows:][:16]
			for l := range group {
				var v float32
				if k := c*f16Chunk + 16*r + l; k < n {
					v = conv(binary.LittleEndian.Uint16(src[2*k:]))
				}
				group[l] = v
			}
		}
	}
}

// tileF16 computes out[i*outStride+j] = dotF16(w[j*wStride:], row i, n) for
// 4 weight rows j and a tile a of rows activation rows i packed by
// packF16Tile, pass by pass as the assembly does: it is the assembly's twin
// (which, with prefetch set, also fetches the next 4 weight rows into cache).
func tileF16(rows int, w []byte, wStride int, a []float32, n int, out []float32, outStride int, prefetch bool) {
	tile16(F16ToF32, rows, w, wStride, a, n, out, outStride)
}

// tile16 is tileF16 for any 16-bit float weight format, conv converting one
// weight to float32.
func tile16(conv func(uint16) float32, rows int, w []byte, wStride int, a []float32, n int, out []float32, outStride int) {
	nc := f16PackedLen(n) / f16Chunk
	for i := 0; i < rows; i++ {
		for j := 0; j < 4; j++ {
			var lanes [64]float32
			for r := 0; r < 4; r++ {
				for c := 0; c < nc; c++ {
					group := a[((r*nc+c)*rows+i)*16:][:16]
					for l, y := range group {
						var x float32
						if k := c*f16Chunk + 16*r + l; k < n {
							x = conv(binary.LittleEndian.Uint16(w[j*wStride+2*k:]))
						}
						lanes[16*r+l] = fma32(x, y, lanes[16*r+l])
					}
				}
			}
			out[i*outStride+j] = sumF16Lanes(&lanes)
		}
	}
}

// f16Tiler is the F16 batch tiler made of a row packer and a tile kernel
// (packF16Tile's and tileF16's contracts, for rows = 2, 4 or 6): the
// assembly, or the Go twins.
type f16Tiler struct {
	pack func(dst []float32, src []byte, n, rows int)
	tile func(rows int, w []byte, wStride int, a []float32, n int, out []float32, outStride int, prefetch bool)
}

// f16PackPool holds packed activation buffers (*[]float32) between calls.
var f16PackPool sync.Pool

// dotTile is a batchTiler: it packs the na activation rows, then computes
// the first nw&^3 weight rows against them in tiles of 4 weight rows by 6
// activation rows (the last tile 2, 4 or 6 rows, an odd row count padded
// with a zero row), the weight rows outside, so that the tile's weights stay
// in cache while the activations stream past. A single activation row is
// left to Dot (decoding: the weights' memory traffic is what counts there).
func (t f16Tiler) dotTile(dst []float32, dstStride int, w []byte, wStride, nw int, a []byte, aStride, na int, n int) int {
	nw4 := nw &^ 3
	if na < 2 || nw4 == 0 || n == 0 {
		return 0
	}
	rowLen := f16PackedLen(n)
	rows := (na + 1) &^ 1
	bufp, _ := f16PackPool.Get().(*[]float32)
	if bufp == nil || cap(*bufp) < rows*rowLen {
		b := make([]float32, rows*rowLen)
		bufp = &b
	}
	packed := (*bufp)[:rows*rowLen]
	clear(packed[na*rowLen:])
	for i := 0; i < na; {
		tr := min(6, rows-i)
		for r := 0; r < tr && i+r < na; r++ {
			t.pack(packed[i*rowLen+16*r:], a[(i+r)*aStride:], n, tr)
		}
		i += tr
	}

	var spare [6 * 4]float32
	for j := 0; j < nw4; j += 4 {
		wj := w[j*wStride:]
		for i := 0; i < na; {
			tr := min(6, rows-i)
			at := packed[i*rowLen : (i+tr)*rowLen]
			// The first tile fetches the next group's weights.
			prefetch := i == 0 && j+8 <= nw
			if i+tr <= na {
				t.tile(tr, wj, wStride, at, n, dst[i*dstStride+j:], dstStride, prefetch)
			} else {
				t.tile(tr, wj, wStride, at, n, spare[:], 4, prefetch)
				for r := 0; i+r < na; r++ {
					copy(dst[(i+r)*dstStride+j:(i+r)*dstStride+j+4], spare[4*r:4*r+4])
				}
			}
			i += tr
		}
	}
	f16PackPool.Put(bufp)
	return nw4
}
