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

// TestIQ4_XSPackedTile checks the packed 4x4 kernel (called directly) against
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
		out := make([]float32, 4*oStride)
		poisonFloats(out)
		iq4XSPackedTile(out, oStride, w, wStride, packed, nb)
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
	b.Run("pack", func(b *testing.B) {
		for range b.N {
			pack()
		}
	})
}
