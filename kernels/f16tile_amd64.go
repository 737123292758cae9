package kernels

import (
	"golang.org/x/sys/cpu"

	"github.com/conveyor-llm/conveyor/gguf"
)

// hasF16Tiles is what the F16 tile kernels need: AVX-512 with BW (16-bit
// masked loads for the row's last chunk).
var hasF16Tiles = hasAVX512 && cpu.X86.HasAVX512BW

func init() {
	if hasF16Tiles {
		f16 := formats[gguf.TypeF16]
		batchTilers[f16] = f16Tiler{packF16AVX512, tileF16AVX512}.dotTile
	}
}

//go:noescape
func tileF16x6AVX512(w *byte, wstride int, a *float32, nc int, mask uint64, out *float32, ostride int, prefetch bool)

//go:noescape
func tileF16x4AVX512(w *byte, wstride int, a *float32, nc int, mask uint64, out *float32, ostride int, prefetch bool)

//go:noescape
func tileF16x2AVX512(w *byte, wstride int, a *float32, nc int, mask uint64, out *float32, ostride int, prefetch bool)

//go:noescape
func packF16TileAVX512(dst *float32, src *byte, nc int, mask uint64, step int)

// packF16AVX512 is packF16Tile in assembly.
func packF16AVX512(dst []float32, src []byte, n, rows int) {
	rowLen := f16PackedLen(n)
	dst, src = dst[:rows*rowLen-16*(rows-1)], src[:2*n]
	packF16TileAVX512(&dst[0], &src[0], rowLen/f16Chunk, f16LastChunkMask(n), 64*rows)
}

// tileF16AVX512 is tileF16 in assembly, for rows = 2, 4 or 6.
func tileF16AVX512(rows int, w []byte, wStride int, a []float32, n int, out []float32, outStride int, prefetch bool) {
	rowLen := f16PackedLen(n)
	w, a, out = w[:3*wStride+2*n], a[:rows*rowLen], out[:(rows-1)*outStride+4]
	k := tileF16x6AVX512
	switch rows {
	case 2:
		k = tileF16x2AVX512
	case 4:
		k = tileF16x4AVX512
	case 6:
	default:
		panic("kernels: tileF16AVX512: rows not 2, 4 or 6")
	}
	k(&w[0], wStride, &a[0], rowLen/f16Chunk, f16LastChunkMask(n), &out[0], outStride, prefetch)
}
