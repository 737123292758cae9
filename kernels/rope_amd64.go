package kernels

//go:noescape
func rotateHalvesAVX512(lo, hi, cos, sin *float32, n int)

//go:noescape
func rotateHalvesAVX2(lo, hi, cos, sin *float32, n int)

//go:noescape
func rotatePairsAVX512(head, cos, sin *float32, n int)

//go:noescape
func rotatePairsAVX2(head, cos, sin *float32, n int)

// The assembly rotations compute what the Go twins do with one VFMSUB231PS or
// VFMADD231PS (or one lane of VFMADDSUB231PS) per output after a VMULPS: the
// rounded product is negated exactly, so each output is fma32 of the same
// operands, bit for bit.
func rotateHalvesAVX512Slices(lo, hi, cos, sin []float32) {
	rotateHalvesAVX512(&lo[0], &hi[0], &cos[0], &sin[0], len(cos))
}

func rotateHalvesAVX2Slices(lo, hi, cos, sin []float32) {
	rotateHalvesAVX2(&lo[0], &hi[0], &cos[0], &sin[0], len(cos))
}

func rotatePairsAVX512Slices(head, cos, sin []float32) {
	rotatePairsAVX512(&head[0], &cos[0], &sin[0], len(cos))
}

func rotatePairsAVX2Slices(head, cos, sin []float32) {
	rotatePairsAVX2(&head[0], &cos[0], &sin[0], len(cos))
}

func init() {
	switch {
	case hasAVX512:
		rotateHalvesVector, rotatePairsVector = rotateHalvesAVX512Slices, rotatePairsAVX512Slices
	case hasAVX2:
		rotateHalvesVector, rotatePairsVector = rotateHalvesAVX2Slices, rotatePairsAVX2Slices
	}
}
