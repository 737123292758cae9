package kernels

//go:noescape
func f16RowsToF32AVX512(dst *float32, src *byte, rows, cols, stride int) (nan bool)

func init() {
	if hasAVX512 {
		f16RowsToF32 = func(dst []float32, src []byte, rows, cols, stride int) {
			// A NaN is redone by the twin, which keeps signalling NaNs as
			// they are.
			if cols%16 == 0 && !f16RowsToF32AVX512(&dst[0], &src[0], rows, cols, stride) {
				return
			}
			f16RowsToF32Go(dst, src, rows, cols, stride)
		}
	}
}
