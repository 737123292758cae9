package kernels

// BF16 matrix tiles: the F16 tiles (f16tile.go) with bfloat16 weights and
// activations. dotBF16 has dotF16's lanes and reduction, so the same passes
// give Dot's bits; only the conversion to float32 differs (a 16-bit shift).

// packBF16Tile is packF16Tile for a BF16 activation row.
func packBF16Tile(dst []float32, src []byte, n, rows int) {
	packTile16(BF16ToF32, dst, src, n, rows)
}

// tileBF16 is tileF16 for BF16 weights: the twin of tileBF16AVX512.
func tileBF16(rows int, w []byte, wStride int, a []float32, n int, out []float32, outStride int, _ bool) {
	tile16(BF16ToF32, rows, w, wStride, a, n, out, outStride)
}
