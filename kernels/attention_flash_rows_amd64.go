package kernels

func init() {
	if hasAVX512 {
		attnScoresF16RowsFast = attnScoresF16RowsAVX512
		attnAccumulateF16RowsFast = attnAccumulateF16RowsAVX512
	}
}

//go:noescape
func attnScoresF16RowsAVX512(dst, q *float32, k *byte, kStride, nt, hd int)

//go:noescape
func attnAccumulateF16RowsAVX512(out, ms, vs *float32, v *byte, vStride, nt, hd int)
