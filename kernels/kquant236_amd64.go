package kernels

import (
	"unsafe"

	"github.com/conveyor-llm/conveyor/gguf"
)

// Assembly kernels for Q6_K, Q3_K and Q2_K weights against Q8_K activations
// (kquant236_amd64.s, written by gen_kquant236.go), chosen at start-up:
//
//   - AVX-512 (BW, VL, VNNI): 4×4 and 4×1 tiles for DotTile (prefill and
//     decode; Q6_K's decode runs the dot row after row instead, see rowX1)
//     and a one-row dot for Format.Dot;
//   - AVX2, where there is no AVX-512 VNNI: the 4×1 tile (the 4×4 one is
//     four of them) and the one-row dot;
//   - the Q8_K activation quantizer (QuantizeActivations), with either.
//
// Each output is its twin's (dotQ6_K, dotQ3_K, dotQ2_K, quantizeQ8_K) bit for
// bit, given Q8_K activations whose group sums (bsums) are those of their
// quants, as quantizeQ8_K writes them: the Q6_K and Q3_K kernels take the
// levels' offset (32, 4) off through them.

//go:noescape
func tileQ6_KAVX512x4(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileQ6_KAVX512x1(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func dotQ6_KAVX512(w, a *byte, nb int) float32

//go:noescape
func tileQ3_KAVX512x4(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileQ3_KAVX512x1(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func dotQ3_KAVX512(w, a *byte, nb int) float32

//go:noescape
func tileQ2_KAVX512x4(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileQ2_KAVX512x1(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func dotQ2_KAVX512(w, a *byte, nb int) float32

//go:noescape
func tileQ6_KAVX2x1(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func dotQ6_KAVX2(w, a *byte, nb int) float32

//go:noescape
func tileQ3_KAVX2x1(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func dotQ3_KAVX2(w, a *byte, nb int) float32

//go:noescape
func tileQ2_KAVX2x1(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func dotQ2_KAVX2(w, a *byte, nb int) float32

//go:noescape
func quantizeQ8_KAVX512(x *float32, nb int, dst *byte)

//go:noescape
func quantizeQ8_KAVX2(x *float32, nb int, dst *byte)

// kq236Quantizer makes a quantizeQ8_K (bit for bit) of an assembly one.
func kq236Quantizer(k func(x *float32, nb int, dst *byte)) func(dst []byte, src []float32) {
	return func(dst []byte, src []float32) {
		nb := len(src) / qkK
		if nb == 0 {
			return
		}
		_ = dst[nb*blockQ8_K-1]
		k(&src[0], nb, &dst[0])
	}
}

// hasAVX512KQ236 is what the kernels here need: AVX-512 BW and VL
// (VPMADDUBSW, VPERMW on 512 bits), VNNI (VPDPWSSD) and F16C.
var hasAVX512KQ236 = hasAVX512VNNI && hasAVX512

// kquant236Kernels are the assembly kernels of each type, with its block size.
type kquant236Kernel struct {
	t      gguf.Type
	bytes  int
	x4, x1 tileKernel
	dot    func(w, a *byte, nb int) float32
	// rowX1: DotTile's 4×1 tile is four dots, one row after another (the
	// weights in order: from memory, as in decode, Q6_K's dot then reads
	// ~30% faster than its 4×1 tile, though slower from L2).
	rowX1 bool
}

var kquant236AVX512 = []kquant236Kernel{
	{gguf.TypeQ6_K, blockQ6_K, tileQ6_KAVX512x4, tileQ6_KAVX512x1, dotQ6_KAVX512, true},
	{gguf.TypeQ3_K, blockQ3_K, tileQ3_KAVX512x4, tileQ3_KAVX512x1, dotQ3_KAVX512, false},
	{gguf.TypeQ2_K, blockQ2_K, tileQ2_KAVX512x4, tileQ2_KAVX512x1, dotQ2_KAVX512, false},
}

// kquant236AVX2 are the AVX2 kernels, for machines without AVX-512: the 4×4
// tile is four 4×1 tiles.
var kquant236AVX2 = []kquant236Kernel{
	{gguf.TypeQ6_K, blockQ6_K, kq236X4Of(tileQ6_KAVX2x1), tileQ6_KAVX2x1, dotQ6_KAVX2, false},
	{gguf.TypeQ3_K, blockQ3_K, kq236X4Of(tileQ3_KAVX2x1), tileQ3_KAVX2x1, dotQ3_KAVX2, false},
	{gguf.TypeQ2_K, blockQ2_K, kq236X4Of(tileQ2_KAVX2x1), tileQ2_KAVX2x1, dotQ2_KAVX2, false},
}

// decodeX1 is the 4×1 tile DotTile runs: x1, or four dots if rowX1.
func (k kquant236Kernel) decodeX1() tileKernel {
	if k.rowX1 {
		return rowTiles(k.dot).x1
	}
	return k.x1
}

// kq236X4Of makes a 4×4 tile kernel of a 4×1 one.
func kq236X4Of(x1 tileKernel) tileKernel {
	return func(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int) {
		for i := 0; i < 4; i++ {
			x1(w, wstride, (*byte)(unsafe.Add(unsafe.Pointer(a), i*astride)), astride, nb,
				(*float32)(unsafe.Add(unsafe.Pointer(out), 4*i*ostride)), ostride)
		}
	}
}

// kRowDot makes a Format.Dot of a one-row K-quant kernel (blocks of bytes
// bytes against Q8_K activations).
func kRowDot(k func(w, a *byte, nb int) float32, bytes int) func(w, a []byte, n int) float32 {
	return func(w, a []byte, n int) float32 {
		nb := n / qkK
		if nb == 0 {
			return 0
		}
		_, _ = w[nb*bytes-1], a[nb*blockQ8_K-1]
		return k(&w[0], &a[0], nb)
	}
}

func init() {
	ks := kquant236AVX512
	switch {
	case hasAVX512KQ236:
		quantizeQ8KActivations = kq236Quantizer(quantizeQ8_KAVX512)
	case hasAVX2:
		quantizeQ8KActivations = kq236Quantizer(quantizeQ8_KAVX2)
		ks = kquant236AVX2
	default:
		return
	}
	for _, k := range ks {
		f := formats[k.t]
		tileKernels[f] = tiles{k.x4, k.decodeX1()}
		f.Dot = kRowDot(k.dot, k.bytes)
	}
}
