package kernels

import (
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// addPlatformRowKernels adds the row kernels this machine can run besides
// the chosen one (the AVX2 kernel on an AVX-512 machine).
func addPlatformRowKernels(m map[string]func(gguf.Type, []byte, *PackedActivations, int, *[PackRows]float32)) {
	if hasAVX2 {
		m["avx2"] = packedRowAVX2
	}
}

func avx2Rows(group []byte, p *PackedActivations, out []float32, _ *PackedScratch) {
	for i := 0; i < p.Rows; i++ {
		packedRowAVX2(p.Type, group, p, i, (*[PackRows]float32)(out[i*PackRows:]))
	}
}

func BenchmarkPackedQ8_0RowAVX2(b *testing.B) { benchPacked(b, gguf.TypeQ8_0, 1, avx2Rows) }
func BenchmarkPackedQ4_0RowAVX2(b *testing.B) { benchPacked(b, gguf.TypeQ4_0, 1, avx2Rows) }
