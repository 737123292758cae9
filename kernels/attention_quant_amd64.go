package kernels

import (
	"golang.org/x/sys/cpu"

	"github.com/conveyor-llm/conveyor/gguf"
)

//go:noescape
func scoresQ8_0AVX512(dst *float32, q, k *byte, kStride, nt, nb int)

//go:noescape
func scoresQ4_0AVX512(dst *float32, q, k *byte, kStride, nt, nb int)

//go:noescape
func accumulateQ8_0AVX512(dst, ms, vs *float32, v *byte, vStride, nt, nb int)

//go:noescape
func accumulateQ4_0AVX512(dst, ms, vs *float32, v *byte, vStride, nt, nb int)

// hasQuantAttn: the quantized cache's kernels need AVX-512 BW (byte and
// word lanes) besides F16C.
var hasQuantAttn = hasAVX512 && cpu.X86.HasAVX512BW

func init() {
	if hasQuantAttn {
		quantScores = quantScoresFast
		accumulateQuant = accumulateQuantFast
	}
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

// accumulateQuantFast is accumulateQuantGo in AVX-512 for Q8_0 and Q4_0
// values, converted in registers.
func accumulateQuantFast(vf *Format, out, ms, vs []float32, v []byte, vStride int, row []float32) {
	hd, nt := len(out), len(ms)
	nb := hd / qk8_0
	if nt == 0 || nb == 0 {
		return
	}
	_ = vs[nt-1]
	switch vf.Type {
	case gguf.TypeQ8_0:
		_ = v[(nt-1)*vStride+nb*blockQ8_0-1]
		accumulateQ8_0AVX512(&out[0], &ms[0], &vs[0], &v[0], vStride, nt, nb)
	case gguf.TypeQ4_0:
		_ = v[(nt-1)*vStride+nb*blockQ4_0-1]
		accumulateQ4_0AVX512(&out[0], &ms[0], &vs[0], &v[0], vStride, nt, nb)
	default:
		accumulateQuantGo(vf, out, ms, vs, v, vStride, row)
	}
}
