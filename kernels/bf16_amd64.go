package kernels

import (
	"golang.org/x/sys/cpu"

	"github.com/conveyor-llm/conveyor/gguf"
)

// hasBF16Kernels is what the BF16 kernels need: AVX-512 with BW (16-bit
// masked loads) and BMI2 (BZHI for the last chunk's mask).
var hasBF16Kernels = hasF16Tiles && cpu.X86.HasBMI2

func init() {
	if hasBF16Kernels {
		f := formats[gguf.TypeBF16]
		f.Dequantize = dequantizeBF16AVX512
		f.Quantize = quantizeBF16AVX512
		f.Dot = dotBF16Fast
		batchTilers[f] = f16Tiler{packBF16AVX512, tileBF16AVX512}.dotTile
	}
}

//go:noescape
func bf16ToF32AVX512(dst *float32, src *byte, n int)

//go:noescape
func f32ToBF16AVX512(dst *byte, src *float32, n int)

//go:noescape
func dotBF16AVX512(w, a *byte, n int) float32

//go:noescape
func packBF16TileAVX512(dst *float32, src *byte, nc int, mask uint64, step int)

//go:noescape
func tileBF16x6AVX512(w *byte, wstride int, a *float32, nc int, mask uint64, out *float32, ostride int, prefetch bool)

//go:noescape
func tileBF16x4AVX512(w *byte, wstride int, a *float32, nc int, mask uint64, out *float32, ostride int, prefetch bool)

//go:noescape
func tileBF16x2AVX512(w *byte, wstride int, a *float32, nc int, mask uint64, out *float32, ostride int, prefetch bool)

// dequantizeBF16AVX512 is dequantizeBF16, 16 values per instruction (a shift
// is exact for every value, NaNs included).
func dequantizeBF16AVX512(dst []float32, src []byte) {
	src = src[:2*len(dst)]
	n := len(dst) &^ 15
	if n > 0 {
		bf16ToF32AVX512(&dst[0], &src[0], n)
	}
	dequantizeBF16(dst[n:], src[2*n:])
}

// quantizeBF16AVX512 is quantizeBF16 in integer vector operations, 16 values
// at a time, with F32ToBF16's rounding and NaN rule.
func quantizeBF16AVX512(dst []byte, src []float32) {
	dst = dst[:2*len(src)]
	n := len(src) &^ 15
	if n > 0 {
		f32ToBF16AVX512(&dst[0], &src[0], n)
	}
	quantizeBF16(dst[2*n:], src[n:])
}

// dotBF16Fast is dotBF16 in AVX-512, with its bits.
func dotBF16Fast(w, a []byte, n int) float32 {
	w, a = w[:2*n], a[:2*n]
	if n == 0 {
		return 0
	}
	return dotBF16AVX512(&w[0], &a[0], n)
}

// packBF16AVX512 is packBF16Tile in assembly.
func packBF16AVX512(dst []float32, src []byte, n, rows int) {
	rowLen := f16PackedLen(n)
	dst, src = dst[:rows*rowLen-16*(rows-1)], src[:2*n]
	packBF16TileAVX512(&dst[0], &src[0], rowLen/f16Chunk, f16LastChunkMask(n), 64*rows)
}

// tileBF16AVX512 is tileBF16 in assembly, for rows = 2, 4 or 6.
func tileBF16AVX512(rows int, w []byte, wStride int, a []float32, n int, out []float32, outStride int, prefetch bool) {
	rowLen := f16PackedLen(n)
	w, a, out = w[:3*wStride+2*n], a[:rows*rowLen], out[:(rows-1)*outStride+4]
	k := tileBF16x6AVX512
	switch rows {
	case 2:
		k = tileBF16x2AVX512
	case 4:
		k = tileBF16x4AVX512
	case 6:
	default:
		panic("kernels: tileBF16AVX512: rows not 2, 4 or 6")
	}
	k(&w[0], wStride, &a[0], rowLen/f16Chunk, f16LastChunkMask(n), &out[0], outStride, prefetch)
}
