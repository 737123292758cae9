package kernels

import (
	"golang.org/x/sys/cpu"

	"github.com/conveyor-llm/conveyor/gguf"
)

// Assembly versions of the hottest dot products, chosen at start-up from the
// CPU's features. Each gives the same bits as its Go twin (dotQ4_0, dotQ8_0)
// for every input; the twins are the definition and what other
// architectures run.

//go:noescape
func dotQ4_0VNNI(w, a *byte, nb int) float32

//go:noescape
func dotQ8_0VNNI(w, a *byte, nb int) float32

//go:noescape
func dotQ4_0AVX2(w, a *byte, nb int) float32

//go:noescape
func dotQ8_0AVX2(w, a *byte, nb int) float32

var (
	// hasAVX2 is AVX2 with FMA and F16C, which every kernel here needs.
	hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C
	// hasVNNI adds 256-bit VPDPBUSD (EVEX-encoded: AVX512_VNNI with AVX512VL).
	hasVNNI = hasAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VNNI && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512BW
)

// blockDot is an assembly kernel over nb blocks.
type blockDot func(w, a *byte, nb int) float32

// asmDot wraps k as a Format.Dot for weights of wBlock bytes per 32 values
// against Q8_0 activations, checking the lengths as the twins do.
func asmDot(k blockDot, wBlock int) func(w, a []byte, n int) float32 {
	return func(w, a []byte, n int) float32 {
		nb := n / 32
		w, a = w[:nb*wBlock], a[:nb*blockQ8_0]
		if nb == 0 {
			return 0
		}
		return k(&w[0], &a[0], nb)
	}
}

func init() {
	switch {
	case hasVNNI:
		formats[gguf.TypeQ4_0].Dot = asmDot(dotQ4_0VNNI, blockQ4_0)
		formats[gguf.TypeQ8_0].Dot = asmDot(dotQ8_0VNNI, blockQ8_0)
		tileKernels[formats[gguf.TypeQ4_0]] = tiles{tileQ4_0x4VNNI, tileQ4_0x1VNNI}
		tileKernels[formats[gguf.TypeQ8_0]] = tiles{tileQ8_0x4VNNI, tileQ8_0x1VNNI}
	case hasAVX2:
		formats[gguf.TypeQ4_0].Dot = asmDot(dotQ4_0AVX2, blockQ4_0)
		formats[gguf.TypeQ8_0].Dot = asmDot(dotQ8_0AVX2, blockQ8_0)
	}
}

//go:noescape
func tileQ4_0x4VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileQ4_0x1VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileQ8_0x4VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileQ8_0x1VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)
