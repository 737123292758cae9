package kernels

import "fmt"

// F16RowsToF32 converts rows of cols F16 values, stride bytes apart in src
// (a slice of a KV cache: one head of consecutive rows), into consecutive
// float32 rows of dst, exactly (as F16ToF32).
func F16RowsToF32(dst []float32, src []byte, rows, cols, stride int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	if stride < 2*cols || len(src) < (rows-1)*stride+2*cols || len(dst) < rows*cols {
		panic(fmt.Sprintf("kernels: F16RowsToF32: %d rows of %d values, stride %d, do not fit (src %d, dst %d)", rows, cols, stride, len(src), len(dst)))
	}
	f16RowsToF32(dst, src, rows, cols, stride)
}

// f16RowsToF32 is F16RowsToF32 after its checks: the Go twin, or an
// assembly version where the machine has one.
var f16RowsToF32 = f16RowsToF32Go

func f16RowsToF32Go(dst []float32, src []byte, rows, cols, stride int) {
	for r := 0; r < rows; r++ {
		dequantizeF16(dst[r*cols:(r+1)*cols], src[r*stride:r*stride+2*cols])
	}
}
