package kernels

import (
	"golang.org/x/sys/cpu"

	"github.com/conveyor-llm/conveyor/gguf"
)

// hasAVX512 is AVX-512 F, DQ and VL on top of hasAVX2: what the attention and
// F16 row kernels need.
var hasAVX512 = hasAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL

func init() {
	if hasAVX512 {
		formats[gguf.TypeF16].Dequantize = dequantizeF16AVX512
		formats[gguf.TypeF16].Quantize = quantizeF16AVX512
		if cpu.X86.HasBMI2 {
			formats[gguf.TypeF16].Dot = dotF16Fast
		}
	}
}

//go:noescape
func attnScoresAVX512(dst, qT, k *float32, kStride, nt, hd int)

//go:noescape
func attnWeightedSumAVX512(out, w, v *float32, vStride, nt, hd int)

//go:noescape
func attnScoresF16AVX512(dst, q, k *float32, kStride, nt, hd int)

//go:noescape
func attnAccumulateF16AVX512(out, ms, vs, v *float32, vStride, nt, hd int)

//go:noescape
func exp32AVX512(dst, src *float32, n int, c *expConsts)

//go:noescape
func flashFactorsAVX512(ms, vs, scores *float32, n int, scale float32, c *expConsts) float32
