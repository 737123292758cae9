package kernels

import (
	"golang.org/x/sys/cpu"

	"github.com/conveyor-llm/conveyor/gguf"
)

//go:noescape
func axpyF32AVX512(acc, x *float32, n int, w float32)

//go:noescape
func scaleF32AVX512(acc *float32, n int, m float32)

//go:noescape
func scoresQ8_0AVX512(dst *float32, q, k *byte, kStride, nt, nb int)

//go:noescape
func scoresQ4_0AVX512(dst *float32, q, k *byte, kStride, nt, nb int)

//go:noescape
func dequantizeQ8_0AVX512(dst *float32, src *byte, nb int)

//go:noescape
func dequantizeQ4_0AVX512(dst *float32, src *byte, nb int)

//go:noescape
func accumulateF32AVX512(out, ms, vs, v *float32, vStride, nt, hd int)

// hasQuantAttn: the quantized cache's kernels need AVX-512 BW (byte and
// word lanes) besides F16C.
var hasQuantAttn = hasAVX512 && cpu.X86.HasAVX512BW

func init() {
	if hasAVX512 {
		axpyF32, scaleF32 = axpyF32Fast, scaleF32Fast
	}
	if hasQuantAttn {
		quantScores = quantScoresFast
		quantDequantize = quantDequantizeFast
		accumulateF32 = accumulateF32Fast
	}
}

// axpyF32Fast is axpyF32Go in AVX-512 for lengths of whole 16-value vectors.
func axpyF32Fast(acc, x []float32, w float32) {
	n := len(acc) &^ 15
	if n > 0 {
		_ = x[n-1]
		axpyF32AVX512(&acc[0], &x[0], n, w)
	}
	axpyF32Go(acc[n:], x[n:], w)
}

// scaleF32Fast is scaleF32Go in AVX-512 for lengths of whole 16-value vectors.
func scaleF32Fast(acc []float32, m float32) {
	n := len(acc) &^ 15
	if n > 0 {
		scaleF32AVX512(&acc[0], n, m)
	}
	scaleF32Go(acc[n:], m)
}

// quantScoresFast is quantScoresGo in AVX-512 for Q8_0 and Q4_0 keys.
func quantScoresFast(dst []float32, kf *Format, k []byte, kStride int, q8 []byte, hd int) {
	nb, nt := hd/qk8_0, len(dst)
	if nt == 0 || nb == 0 {
		return
	}
	switch kf.Type {
	case gguf.TypeQ8_0:
		_, _ = k[(nt-1)*kStride+nb*blockQ8_0-1], q8[nb*blockQ8_0-1]
		scoresQ8_0AVX512(&dst[0], &q8[0], &k[0], kStride, nt, nb)
	case gguf.TypeQ4_0:
		_, _ = k[(nt-1)*kStride+nb*blockQ4_0-1], q8[nb*blockQ8_0-1]
		scoresQ4_0AVX512(&dst[0], &q8[0], &k[0], kStride, nt, nb)
	default:
		quantScoresGo(dst, kf, k, kStride, q8, hd)
	}
}

// quantDequantizeFast is quantDequantizeGo in AVX-512 for Q8_0 and Q4_0.
func quantDequantizeFast(vf *Format, dst []float32, src []byte, srcStride, nt, hd int) {
	nb := hd / qk8_0
	if nt == 0 || nb == 0 {
		return
	}
	_ = dst[nt*hd-1]
	switch vf.Type {
	case gguf.TypeQ8_0:
		_ = src[(nt-1)*srcStride+nb*blockQ8_0-1]
		for t := 0; t < nt; t++ {
			dequantizeQ8_0AVX512(&dst[t*hd], &src[t*srcStride], nb)
		}
	case gguf.TypeQ4_0:
		_ = src[(nt-1)*srcStride+nb*blockQ4_0-1]
		for t := 0; t < nt; t++ {
			dequantizeQ4_0AVX512(&dst[t*hd], &src[t*srcStride], nb)
		}
	default:
		quantDequantizeGo(vf, dst, src, srcStride, nt, hd)
	}
}

// accumulateF32Fast is accumulateF32Go in AVX-512 for heads of whole
// 16-value vectors.
func accumulateF32Fast(out, ms, vs, v []float32, vStride int) {
	hd, nt := len(out), len(ms)
	if nt == 0 || hd%16 != 0 {
		accumulateF32Go(out, ms, vs, v, vStride)
		return
	}
	_, _ = vs[nt-1], v[(nt-1)*vStride+hd-1]
	accumulateF32AVX512(&out[0], &ms[0], &vs[0], &v[0], vStride, nt, hd)
}
