package kernels

import (
	"golang.org/x/sys/cpu"

	"github.com/conveyor-llm/conveyor/gguf"
)

//go:generate go run smallq_gen.go

// AVX-512 VNNI tile kernels for the 32-value block types Q4_1, Q5_0, Q5_1
// and IQ4_NL on the standard ggml block layouts (smallq_amd64.s, written by
// smallq_gen.go), and IQ4_XS. Each output is its Go twin's bits: the weights
// become unsigned bytes (nibbles, plus the fifth bit, or IQ4 levels + 128),
// VPDPBUSD sums them against the int8 activations exactly, a correction
// c·Σa is taken off where the bytes carry an offset c (Q5_0: 16, IQ4_NL:
// 128), and the float steps are the twin's: blockLanes' per-lane FMA and
// pairwise sum (Q4_1, Q5_0, Q5_1, with the offsets chain added apart), or one
// FMA per block of the whole block's sum (IQ4_NL). The lanes types' kernels
// work in ymm registers, one per (weight, activation) pair, with the scales
// d_w·d_a of each block multiplied into a table one block ahead, so each pair
// costs a VPDPBUSD, a conversion and an FMA with a broadcast scale.

//go:noescape
func tileQ4_1x4VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileQ4_1x1VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileQ5_0x4VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileQ5_0x1VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileQ5_1x4VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileQ5_1x1VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileIQ4_NLx4VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileIQ4_NLx1VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileIQ4_XSx4VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileIQ4_XSx1VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

// Single-row kernels for Format.Dot (tile kernels of 1 weight row by 1
// activation row: the strides and ostride are unused).

//go:noescape
func dotQ4_1VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func dotQ5_0VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func dotQ5_1VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func dotIQ4_NLVNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

// smallqDotVNNI are the single-row kernels by type (the others' Dot runs
// their 4x1 tile kernel on one row).
var smallqDotVNNI = map[gguf.Type]tileKernel{
	gguf.TypeQ4_1:   dotQ4_1VNNI,
	gguf.TypeQ5_0:   dotQ5_0VNNI,
	gguf.TypeQ5_1:   dotQ5_1VNNI,
	gguf.TypeIQ4_NL: dotIQ4_NLVNNI,
}

// AVX2 kernels for the lanes types, for CPUs without AVX-512 VNNI: the same
// arithmetic, with VPMADDUBSW and VPMADDWD for VPDPBUSD (exact here) and
// the activation rows two at a time (16 registers).

//go:noescape
func tileQ4_1x4AVX2(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileQ4_1x1AVX2(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func dotQ4_1AVX2(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileQ5_0x4AVX2(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileQ5_0x1AVX2(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func dotQ5_0AVX2(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileQ5_1x4AVX2(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileQ5_1x1AVX2(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func dotQ5_1AVX2(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileIQ4_NLx4AVX2(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileIQ4_NLx1AVX2(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func dotIQ4_NLAVX2(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

// hasSmallqAVX2 is what the AVX2 kernels use: AVX2, FMA and F16C.
var hasSmallqAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C

// smallqAVX2 are the AVX2 tile kernels by type, and smallqDotAVX2 their
// single-row kernels.
var smallqAVX2 = map[gguf.Type]tiles{
	gguf.TypeQ4_1:   {tileQ4_1x4AVX2, tileQ4_1x1AVX2},
	gguf.TypeQ5_0:   {tileQ5_0x4AVX2, tileQ5_0x1AVX2},
	gguf.TypeQ5_1:   {tileQ5_1x4AVX2, tileQ5_1x1AVX2},
	gguf.TypeIQ4_NL: {tileIQ4_NLx4AVX2, tileIQ4_NLx1AVX2},
}

var smallqDotAVX2 = map[gguf.Type]tileKernel{
	gguf.TypeQ4_1:   dotQ4_1AVX2,
	gguf.TypeQ5_0:   dotQ5_0AVX2,
	gguf.TypeQ5_1:   dotQ5_1AVX2,
	gguf.TypeIQ4_NL: dotIQ4_NLAVX2,
}

// hasSmallqVNNI is what the kernels here use: AVX-512 F, BW, DQ, VL and
// VNNI, and F16C.
var hasSmallqVNNI = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ &&
	cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI && cpu.X86.HasF16C

// smallqVNNI are the tile kernels by type (IQ4_XS's are set up in
// iq4xs_amd64.go, with its batch path).
var smallqVNNI = map[gguf.Type]tiles{
	gguf.TypeQ4_1:   {tileQ4_1x4VNNI, tileQ4_1x1VNNI},
	gguf.TypeQ5_0:   {tileQ5_0x4VNNI, tileQ5_0x1VNNI},
	gguf.TypeQ5_1:   {tileQ5_1x4VNNI, tileQ5_1x1VNNI},
	gguf.TypeIQ4_NL: {tileIQ4_NLx4VNNI, tileIQ4_NLx1VNNI},
}

// oneDot makes a single-row Dot of a 1x1 kernel.
func oneDot(t gguf.Type, k tileKernel) func(w, a []byte, n int) float32 {
	return func(w, a []byte, n int) float32 {
		nb := n / t.BlockSize()
		if nb == 0 {
			return 0
		}
		w, a = w[:t.RowBytes(n)], a[:formats[t].DotType.RowBytes(n)]
		var out float32
		k(&w[0], 0, &a[0], 0, nb, &out, 0)
		return out
	}
}

// rowDot makes a single-row Dot of a 4x1 tile kernel: the one weight row
// stands for all four (stride 0) and the first output is kept.
func rowDot(t gguf.Type, x1 tileKernel) func(w, a []byte, n int) float32 {
	return func(w, a []byte, n int) float32 {
		nb := n / t.BlockSize()
		if nb == 0 {
			return 0
		}
		w, a = w[:t.RowBytes(n)], a[:formats[t].DotType.RowBytes(n)]
		var out [4]float32
		x1(&w[0], 0, &a[0], 0, nb, &out[0], 0)
		return out[0]
	}
}

func init() {
	if !hasSmallqVNNI {
		if hasSmallqAVX2 {
			for t, k := range smallqAVX2 {
				f := formats[t]
				tileKernels[f] = k
				f.Dot = oneDot(t, smallqDotAVX2[t])
			}
		}
		return
	}
	for t, k := range smallqVNNI {
		f := formats[t]
		tileKernels[f] = k
		if d := smallqDotVNNI[t]; d != nil {
			f.Dot = oneDot(t, d)
		} else {
			f.Dot = rowDot(t, k.x1)
		}
	}
}
