package kernels

import "github.com/conveyor-llm/conveyor/gguf"

// AVX2 dots for F32 and BF16 rows (f16lanes_avx2_amd64.s), each dotF32's or
// dotBF16's bits: Format.Dot where AVX-512 is missing (without it there are
// no tile kernels for these types: 64 lanes take 8 of AVX2's 16 registers
// per output, so DotTile runs Dot output by output).

//go:noescape
func dotF32AVX2(w, a *byte, nc int, wt, at *byte) float32

//go:noescape
func dotBF16AVX2(w, a *byte, nc int, wt, at *byte) float32

// dotF32AVX2Row is dotF32 on AVX2: whole 64-value chunks in place, the last
// partial one copied zero-padded.
func dotF32AVX2Row(w, a []byte, n int) float32 {
	w, a = w[:4*n], a[:4*n]
	if n == 0 {
		return 0
	}
	nc := n / 64
	var wt, at [4 * 64]byte
	var wp, ap *byte
	if r := n - 64*nc; r > 0 {
		copy(wt[:], w[4*64*nc:])
		copy(at[:], a[4*64*nc:])
		wp, ap = &wt[0], &at[0]
	}
	return dotF32AVX2(&w[0], &a[0], nc, wp, ap)
}

// dotBF16AVX2Row is dotBF16 on AVX2, as dotF32AVX2Row.
func dotBF16AVX2Row(w, a []byte, n int) float32 {
	w, a = w[:2*n], a[:2*n]
	if n == 0 {
		return 0
	}
	nc := n / 64
	var wt, at [2 * 64]byte
	var wp, ap *byte
	if r := n - 64*nc; r > 0 {
		copy(wt[:], w[2*64*nc:])
		copy(at[:], a[2*64*nc:])
		wp, ap = &wt[0], &at[0]
	}
	return dotBF16AVX2(&w[0], &a[0], nc, wp, ap)
}

func init() {
	if hasAVX2 && !hasBF16Kernels {
		formats[gguf.TypeF32].Dot = dotF32AVX2Row
		formats[gguf.TypeBF16].Dot = dotBF16AVX2Row
	}
}
