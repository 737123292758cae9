package kernels

// q8_0ActsChunk is the most blocks quantizeQ8_0AVX512 hands the packed
// quantizer at a time (its scale and correction tables, unused here, live on
// the stack).
const q8_0ActsChunk = 64

// quantizeQ8_0AVX512 is quantizeQ8_0Activations through the packed
// matmuls' AVX-512 quantizer, which writes the same Q8_0 blocks (it is
// tested bit for bit against quantizePackedGo, which calls
// quantizeQ8_0Activations) and per-block tables dropped here. Prompts of
// types with Q8_0 activations (IQ4_NL, Q5_0) spent about a sixth of their
// time in the Go loop.
func quantizeQ8_0AVX512(dst []byte, src []float32) {
	nb := len(src) / qk8_0
	_ = dst[:nb*blockQ8_0]
	var (
		d [q8_0ActsChunk]float32
		c [q8_0ActsChunk]int32
	)
	for b := 0; b < nb; b += q8_0ActsChunk {
		n := min(q8_0ActsChunk, nb-b)
		quantizePackedAVX512(&src[b*qk8_0], n, &dst[b*blockQ8_0], &d[0], &c[0], 7)
	}
}

func init() {
	if hasAVX512VNNI {
		quantizeQ8_0Fast = quantizeQ8_0AVX512
	}
}
