package kernels

func rotateVariants() []rotateVariant {
	return []rotateVariant{
		{"AVX512", rotateHalvesAVX512Slices, rotatePairsAVX512Slices, hasAVX512},
		{"AVX2", rotateHalvesAVX2Slices, rotatePairsAVX2Slices, hasAVX2},
	}
}
