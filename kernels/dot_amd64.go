package kernels

import "golang.org/x/sys/cpu"

// CPU features the amd64 kernels are chosen by at start-up.
var (
	// hasAVX2 is AVX2 with FMA and F16C, which every kernel here needs.
	hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C
)
