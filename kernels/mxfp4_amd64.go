package kernels

import "github.com/conveyor-llm/conveyor/gguf"

//go:generate go run mxfp4_gen.go

// MXFP4 × Q8_0 kernels (mxfp4_amd64.s, written by mxfp4_gen.go): tiles of 4
// weight rows by 4 or 1 activation rows for DotTile (prefill, and a
// decode's mat-vec), and a single-row Dot, for AVX-512 VNNI and for AVX2.
// Each output is dotMXFP4's bits: the nibbles become levels by a byte
// shuffle, each block's integer sum is exact, and the float steps are the
// twin's one FMA per block with d_a·2^(e−128).

//go:noescape
func tileMXFP4x4VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileMXFP4x1VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func dotMXFP4VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileMXFP4x4AVX2(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func tileMXFP4x1AVX2(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

//go:noescape
func dotMXFP4AVX2(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)

// mxfp4Variants are the kernels by instruction set, best first, with
// whether this machine runs them.
var mxfp4Variants = []struct {
	name  string
	ok    bool
	tiles tiles
	dot   tileKernel
}{
	{"VNNI", hasSmallqVNNI, tiles{tileMXFP4x4VNNI, tileMXFP4x1VNNI}, dotMXFP4VNNI},
	{"AVX2", hasSmallqAVX2, tiles{tileMXFP4x4AVX2, tileMXFP4x1AVX2}, dotMXFP4AVX2},
}

func init() {
	for _, v := range mxfp4Variants {
		if v.ok {
			f := formats[gguf.TypeMXFP4]
			tileKernels[f] = v.tiles
			f.Dot = oneDot(gguf.TypeMXFP4, v.dot)
			return
		}
	}
}
