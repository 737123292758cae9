package kernels

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// TestIQ4_XSPackedTile checks the packed 4x4 kernels (called directly, on
// standard and on packed weights) against
// dotIQ4_XS bit for bit: random and extreme blocks (levels ±127 against
// activations −128 and 127, the largest scales), 1 to 9 blocks, odd strides.
func TestIQ4_XSPackedTile(t *testing.T) {
	if !hasSmallqVNNI {
		t.Skip("no AVX-512 VNNI")
	}
	typ := gguf.TypeIQ4_XS
	rng := rand.New(rand.NewPCG(23, 5))
	for iter := 0; iter < 200; iter++ {
		nb := 1 + rng.IntN(9)
		n := nb * qkK
		mode := iter % 4
		wRow, aRow := typ.RowBytes(n), gguf.TypeQ8_K.RowBytes(n)
		wStride, aStride, oStride := wRow+rng.IntN(3)*7, aRow+rng.IntN(3)*5, 4+rng.IntN(3)
		w := smallqRows(rng, typ, 4, n, wStride, mode)
		a := smallqRows(rng, gguf.TypeQ8_K, 4, n, aStride, mode)
		packed := make([]byte, nb*iq4XSPackedA)
		for i := range packed {
			packed[i] = byte(rng.Uint32()) // the packer must write every byte the kernel reads
		}
		packIQ4_XSActs(packed, a, aStride, nb)
		for _, tile := range []func([]float32, int, []byte, int, []byte, int){iq4XSPackedTile, iq4XSPackedWTile} {
			out := make([]float32, 4*oStride)
			poisonFloats(out)
			tile(out, oStride, w, wStride, packed, nb)
			for i := 0; i < 4; i++ {
				for j := 0; j < oStride; j++ {
					got := out[i*oStride+j]
					if j >= 4 {
						if !math.IsNaN(float64(got)) {
							t.Fatalf("wrote outside the tile at (%d, %d)", i, j)
						}
						continue
					}
					want := dotIQ4_XS(w[j*wStride:j*wStride+wRow], a[i*aStride:i*aStride+aRow], n)
					if math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("mode %d nb=%d: (%d, %d) = %g (%#x), want %g (%#x)",
							mode, nb, i, j, got, math.Float32bits(got), want, math.Float32bits(want))
					}
				}
			}
		}
	}
}

// TestIQ4_XSPackActs checks the assembly packer against packIQ4_XSActs: the
// same values and d_a, and corrections that add up to the same per sub-block
// (dwords 4m, 4m+1 and 4m+2, 4m+3, as the kernel's first fold adds them).
func TestIQ4_XSPackActs(t *testing.T) {
	if !hasSmallqVNNI {
		t.Skip("no AVX-512 VNNI")
	}
	rng := rand.New(rand.NewPCG(29, 3))
	for iter := 0; iter < 40; iter++ {
		nb := 1 + rng.IntN(9)
		n := nb * qkK
		aStride := gguf.TypeQ8_K.RowBytes(n) + rng.IntN(3)*5
		a := smallqRows(rng, gguf.TypeQ8_K, 4, n, aStride, iter%4)
		got, want := make([]byte, nb*iq4XSPackedA), make([]byte, nb*iq4XSPackedA)
		packIQ4_XSActsVNNI(got, a, aStride, nb)
		packIQ4_XSActs(want, a, aStride, nb)
		for b := 0; b < nb; b++ {
			g, w := got[b*iq4XSPackedA:], want[b*iq4XSPackedA:]
			for i := 0; i < 4; i++ {
				r := iq4XSPackedRow * i
				if !bytes.Equal(g[r:r+iq4XSPackedCorr], w[r:r+iq4XSPackedCorr]) {
					t.Fatalf("nb=%d block %d row %d: values differ", nb, b, i)
				}
				for l := 0; l < 16; l += 2 {
					c := r + iq4XSPackedCorr + 4*l
					sg := int32(binary.LittleEndian.Uint32(g[c:])) + int32(binary.LittleEndian.Uint32(g[c+4:]))
					sw := int32(binary.LittleEndian.Uint32(w[c:])) + int32(binary.LittleEndian.Uint32(w[c+4:]))
					if sg != sw {
						t.Fatalf("nb=%d block %d row %d: corrections %d, %d at dwords %d, %d", nb, b, i, sg, sw, l, l+1)
					}
				}
				d := iq4XSPackedD + 4*i
				if !bytes.Equal(g[d:d+4], w[d:d+4]) {
					t.Fatalf("nb=%d block %d row %d: d_a differs", nb, b, i)
				}
			}
		}
	}
}

// iq4XSVariant is one way DotTile and Dot can run IQ4_XS, and whether this
// machine can run it.
type iq4XSVariant struct {
	name  string
	ok    bool
	batch batchTiler // nil: none
	tiles *tiles     // nil: none
	dot   func(w, a []byte, n int) float32
}

func iq4XSVariants() []iq4XSVariant {
	vnni := iq4XSVNNI
	avx2 := iq4XSAVX2
	return []iq4XSVariant{
		{"AVX512-packed", hasSmallqVNNI, iq4XSDotTile, &vnni, rowDot(gguf.TypeIQ4_XS, vnni.x1)},
		{"AVX512-tiles", hasSmallqVNNI, nil, &vnni, rowDot(gguf.TypeIQ4_XS, vnni.x1)},
		{"AVX2", hasAVX2, nil, &avx2, kRowDot(dotIQ4_XSAVX2, blockIQ4_XS)},
		{"Go", true, nil, nil, dotIQ4_XS},
	}
}

// use makes v the IQ4_XS format's kernels until the returned func restores
// them.
func (v iq4XSVariant) use() (restore func()) {
	f := formats[gguf.TypeIQ4_XS]
	bt, hasBT := batchTilers[f]
	tk, hasTK := tileKernels[f]
	dot := f.Dot
	delete(batchTilers, f)
	delete(tileKernels, f)
	if v.batch != nil {
		batchTilers[f] = v.batch
	}
	if v.tiles != nil {
		tileKernels[f] = *v.tiles
	}
	f.Dot = v.dot
	return func() {
		delete(batchTilers, f)
		delete(tileKernels, f)
		if hasBT {
			batchTilers[f] = bt
		}
		if hasTK {
			tileKernels[f] = tk
		}
		f.Dot = dot
	}
}

// TestIQ4_XSVariantsDotTile forces each IQ4_XS variant this CPU can run
// and checks DotTile and Dot against dotIQ4_XS bit for bit at awkward
// shapes (weight rows not a multiple of 4, one row, batches of 1, 5 and
// 17), on random and extreme blocks.
func TestIQ4_XSVariantsDotTile(t *testing.T) {
	typ := gguf.TypeIQ4_XS
	f := formats[typ]
	for _, v := range iq4XSVariants() {
		t.Run(v.name, func(t *testing.T) {
			if !v.ok {
				t.Skip("this CPU cannot run it")
			}
			defer v.use()()
			rng := rand.New(rand.NewPCG(31, 7))
			for iter := 0; iter < 60; iter++ {
				n := qkK * (1 + rng.IntN(9))
				nw := []int{1, 3, 4, 5, 7, 8, 11}[iter%7]
				na := []int{1, 17, 4, 5, 2, 8}[iter%6]
				mode := iter % 4
				wRow, aRow := typ.RowBytes(n), f.DotType.RowBytes(n)
				wStride, aStride, dStride := wRow+rng.IntN(2)*3, aRow+rng.IntN(2)*9, nw+rng.IntN(3)
				w := smallqRows(rng, typ, nw, n, wStride, mode)
				a := smallqRows(rng, f.DotType, na, n, aStride, mode)
				dst := make([]float32, na*dStride)
				poisonFloats(dst)
				f.DotTile(dst, dStride, w, wStride, nw, a, aStride, na, n)
				for i := 0; i < na; i++ {
					for j := 0; j < dStride; j++ {
						got := dst[i*dStride+j]
						if j >= nw {
							if !math.IsNaN(float64(got)) {
								t.Fatalf("wrote outside the tile at (%d, %d)", i, j)
							}
							continue
						}
						wj, ai := w[j*wStride:j*wStride+wRow], a[i*aStride:i*aStride+aRow]
						want := dotIQ4_XS(wj, ai, n)
						if math.Float32bits(got) != math.Float32bits(want) {
							t.Fatalf("mode %d n=%d %dx%d: (%d, %d) = %g, want %g", mode, n, nw, na, i, j, got, want)
						}
						if d := f.Dot(wj, ai, n); math.Float32bits(d) != math.Float32bits(want) {
							t.Fatalf("Dot mode %d n=%d: %g, want %g", mode, n, d, want)
						}
					}
				}
			}
		})
	}
}

// TestIQ4_XSVNNITiles checks the VNNI tiles on the standard layouts (called
// directly).
func TestIQ4_XSVNNITiles(t *testing.T) {
	if !hasSmallqVNNI {
		t.Skip("no AVX-512 VNNI")
	}
	checkSmallqTiles(t, gguf.TypeIQ4_XS, iq4XSVNNI)
}

// TestIQ4_XSAVX2 checks the AVX2 kernel as tiles and as a single-row dot
// (called directly, whatever this machine registers).
func TestIQ4_XSAVX2(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2")
	}
	checkSmallqTiles(t, gguf.TypeIQ4_XS, iq4XSAVX2)
	checkSmallqDot(t, gguf.TypeIQ4_XS, kRowDot(dotIQ4_XSAVX2, blockIQ4_XS))
}

// BenchmarkTileIQ4_XSPacked compares DotTile's IQ4_XS paths on 64 weight
// rows × 64 activation rows of 2048 values: "packed" the batch tiler
// (activations packed each call, as MatMul runs it), "tiles" the 4x4 tile
// kernels on the standard layouts it replaces.
func BenchmarkTileIQ4_XSPacked(b *testing.B) {
	if !hasSmallqVNNI {
		b.Skip("no AVX-512 VNNI")
	}
	typ := gguf.TypeIQ4_XS
	f := formats[typ]
	const n, rows = 2048, 64
	rng := rand.New(rand.NewPCG(1, 2))
	w := smallqRows(rng, typ, rows, n, typ.RowBytes(n), 0)
	a := smallqRows(rng, f.DotType, rows, n, f.DotType.RowBytes(n), 0)
	dst := make([]float32, rows*rows)
	for _, mode := range []string{"packed", "tiles"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "tiles" {
				bt := batchTilers[f]
				delete(batchTilers, f)
				defer func() { batchTilers[f] = bt }()
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ResetTimer()
			cpu0 := smallqThreadCPU()
			for range b.N {
				f.DotTile(dst, rows, w, typ.RowBytes(n), rows, a, f.DotType.RowBytes(n), rows, n)
			}
			b.ReportMetric(float64(b.N)*rows*rows*n/(smallqThreadCPU()-cpu0)/1e9, "GMAC/cpu-s")
		})
	}
}

// BenchmarkIQ4_XSPackedKernel times the packed 4x4 kernel alone (the
// activations packed once, outside the loop) and the packing alone.
func BenchmarkIQ4_XSPackedKernel(b *testing.B) {
	if !hasSmallqVNNI {
		b.Skip("no AVX-512 VNNI")
	}
	typ := gguf.TypeIQ4_XS
	const n, rows = 2048, 64
	nb := n / qkK
	rng := rand.New(rand.NewPCG(1, 2))
	wRow, aRow := typ.RowBytes(n), gguf.TypeQ8_K.RowBytes(n)
	w := smallqRows(rng, typ, rows, n, wRow, 0)
	a := smallqRows(rng, gguf.TypeQ8_K, rows, n, aRow, 0)
	packed := make([]byte, rows/4*nb*iq4XSPackedA)
	pack := func() {
		for i := 0; i < rows; i += 4 {
			packIQ4_XSActsVNNI(packed[i/4*nb*iq4XSPackedA:], a[i*aRow:], aRow, nb)
		}
	}
	pack()
	dst := make([]float32, rows*rows)
	wp := make([]byte, rows/4*nb*iq4XSPackedA)
	for j := 0; j < rows; j += 4 {
		prepIQ4_XSW4VNNI(&wp[j/4*nb*iq4XSPackedA], &w[j*wRow], wRow, nb)
	}
	b.Run("kernel", func(b *testing.B) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cpu0 := smallqThreadCPU()
		for range b.N {
			for j := 0; j < rows; j += 4 {
				for i := 0; i < rows; i += 4 {
					iq4XSPackedTile(dst[i*rows+j:], rows, w[j*wRow:], wRow, packed[i/4*nb*iq4XSPackedA:], nb)
				}
			}
		}
		b.ReportMetric(float64(b.N)*rows*rows*n/(smallqThreadCPU()-cpu0)/1e9, "GMAC/cpu-s")
	})
	b.Run("kernel-packedW", func(b *testing.B) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cpu0 := smallqThreadCPU()
		for range b.N {
			for j := 0; j < rows; j += 4 {
				for i := 0; i < rows; i += 4 {
					tileIQ4_XSPackedWx4VNNI(&wp[j/4*nb*iq4XSPackedA], 0, &packed[i/4*nb*iq4XSPackedA], nb, &dst[i*rows+j], rows)
				}
			}
		}
		b.ReportMetric(float64(b.N)*rows*rows*n/(smallqThreadCPU()-cpu0)/1e9, "GMAC/cpu-s")
	})
	b.Run("pack", func(b *testing.B) {
		for range b.N {
			pack()
		}
	})
}

// BenchmarkDotIQ4_XSVariants times each variant's single-row Dot over 512
// rows of 2048 values (GB of weights per CPU second).
func BenchmarkDotIQ4_XSVariants(b *testing.B) {
	typ := gguf.TypeIQ4_XS
	const n, rows = 2048, 512
	rng := rand.New(rand.NewPCG(1, 2))
	wRow, aRow := typ.RowBytes(n), gguf.TypeQ8_K.RowBytes(n)
	w := smallqRows(rng, typ, rows, n, wRow, 0)
	a := smallqRows(rng, gguf.TypeQ8_K, 1, n, aRow, 0)
	for _, v := range iq4XSVariants() {
		if !v.ok || v.batch != nil {
			continue
		}
		b.Run(v.name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var sink float32
			cpu0 := smallqThreadCPU()
			for range b.N {
				for j := 0; j < rows; j++ {
					sink += v.dot(w[j*wRow:(j+1)*wRow], a, n)
				}
			}
			b.ReportMetric(float64(b.N)*float64(len(w))/(smallqThreadCPU()-cpu0)/1e9, "GB/cpu-s")
			_ = sink
		})
	}
}

// BenchmarkDecodeIQ4_XSVariants times DotTile against one activation row
// (decode) over a 5632 × 2048 matrix for each variant (GB of weights per CPU
// second).
func BenchmarkDecodeIQ4_XSVariants(b *testing.B) {
	typ := gguf.TypeIQ4_XS
	f := formats[typ]
	const n, rows = 2048, 5632
	rng := rand.New(rand.NewPCG(1, 2))
	wRow, aRow := typ.RowBytes(n), gguf.TypeQ8_K.RowBytes(n)
	w := smallqRows(rng, typ, rows, n, wRow, 0)
	a := smallqRows(rng, gguf.TypeQ8_K, 1, n, aRow, 0)
	dst := make([]float32, rows)
	for _, v := range iq4XSVariants() {
		if !v.ok || v.batch != nil {
			continue
		}
		b.Run(v.name, func(b *testing.B) {
			defer v.use()()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := smallqThreadCPU()
			for range b.N {
				f.DotTile(dst, rows, w, wRow, rows, a, aRow, 1, n)
			}
			b.ReportMetric(float64(b.N)*float64(len(w))/(smallqThreadCPU()-cpu0)/1e9, "GB/cpu-s")
		})
	}
}

// BenchmarkTileIQ4_XSVariants times DotTile on 64 weight rows × 64
// activation rows of 2048 values for each variant this CPU can run.
func BenchmarkTileIQ4_XSVariants(b *testing.B) {
	typ := gguf.TypeIQ4_XS
	f := formats[typ]
	const n, rows = 2048, 64
	rng := rand.New(rand.NewPCG(1, 2))
	wRow, aRow := typ.RowBytes(n), gguf.TypeQ8_K.RowBytes(n)
	w := smallqRows(rng, typ, rows, n, wRow, 0)
	a := smallqRows(rng, gguf.TypeQ8_K, rows, n, aRow, 0)
	dst := make([]float32, rows*rows)
	for _, v := range append(iq4XSVariants(), iq4XSVariant{"AVX2-rows", hasAVX2, nil, &tiles{rowTiles(dotIQ4_XSAVX2).x4, rowTiles(dotIQ4_XSAVX2).x1}, kRowDot(dotIQ4_XSAVX2, blockIQ4_XS)}) {
		if !v.ok {
			continue
		}
		b.Run(v.name, func(b *testing.B) {
			defer v.use()()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := smallqThreadCPU()
			for range b.N {
				f.DotTile(dst, rows, w, wRow, rows, a, aRow, rows, n)
			}
			b.ReportMetric(float64(b.N)*rows*rows*n/(smallqThreadCPU()-cpu0)/1e9, "GMAC/cpu-s")
		})
	}
}
