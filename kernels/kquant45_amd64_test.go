package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"github.com/conveyor-llm/conveyor/gguf"
)

// kq45Variant is one set of Q4_K/Q5_K tile kernels and whether this machine
// can run it.
type kq45Variant struct {
	name string
	typ  gguf.Type
	t    tiles
	ok   bool
}

func kq45Variants() []kq45Variant {
	avx512 := hasAVX512VNNI && hasAVX512
	return []kq45Variant{
		{"Go/Q4_K", gguf.TypeQ4_K, twinTiles(gguf.TypeQ4_K), true},
		{"Go/Q5_K", gguf.TypeQ5_K, twinTiles(gguf.TypeQ5_K), true},
		{"AVX512/Q4_K", gguf.TypeQ4_K, tiles{tileQ4_Kx4AVX512, tileQ4_Kx1AVX512}, avx512},
		{"AVX512/Q5_K", gguf.TypeQ5_K, tiles{tileQ5_Kx4AVX512, tileQ5_Kx1AVX512}, avx512},
		{"AVX2/Q4_K", gguf.TypeQ4_K, rowTiles(dotQ4_KAVX2), hasAVX2},
		{"AVX2/Q5_K", gguf.TypeQ5_K, rowTiles(dotQ5_KAVX2), hasAVX2},
	}
}

// twinTiles are tile kernels made of the twin dot (the speed before the
// assembly, for the benchmarks).
func twinTiles(typ gguf.Type) tiles {
	twin, size := kq45Twins[typ], typ.BlockBytes()
	tile := func(rows int) tileKernel {
		return func(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int) {
			n := nb * qkK
			for i := 0; i < rows; i++ {
				ai := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(a), i*astride)), nb*blockQ8_K)
				for j := 0; j < 4; j++ {
					wj := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(w), j*wstride)), nb*size)
					*(*float32)(unsafe.Add(unsafe.Pointer(out), 4*(i*ostride+j))) = twin(wj, ai, n)
				}
			}
		}
	}
	return tiles{tile(4), tile(1)}
}

// TestKQ45KernelsMatchTwin calls every kernel variant this CPU can run
// directly on raw blocks (random and extreme: all levels, scales and mins at
// their maximum against activations of -128/127) and compares each output's
// bits with the twin; the outputs around the tile must stay poisoned.
func TestKQ45KernelsMatchTwin(t *testing.T) {
	for _, v := range kq45Variants() {
		t.Run(v.name, func(t *testing.T) {
			if !v.ok {
				t.Skip("CPU lacks the instructions")
			}
			twin := kq45Twins[v.typ]
			rng := rand.New(rand.NewPCG(7, uint64(v.typ)))
			size := v.typ.BlockBytes()
			for iter := 0; iter < 200; iter++ {
				nb := 1 + iter%20
				extreme := iter%4 == 3
				wStride, aStride := nb*size+rng.IntN(2)*16, nb*blockQ8_K+rng.IntN(2)*8
				w := randKWeights(rng, v.typ, 4*wStride/size+1, extreme)
				a := randQ8KActs(rng, 4*aStride/blockQ8_K+1, extreme)
				for _, na := range []int{4, 1} {
					const ostride = 6
					out := make([]float32, 4*ostride)
					poisonFloats(out)
					k := v.t.x4
					if na == 1 {
						k = v.t.x1
					}
					k(&w[0], wStride, &a[0], aStride, nb, &out[0], ostride)
					for i := 0; i < 4; i++ {
						for j := 0; j < ostride; j++ {
							got := out[i*ostride+j]
							if i >= na || j >= 4 {
								if !math.IsNaN(float64(got)) {
									t.Fatalf("x%d nb=%d wrote (%d, %d)", na, nb, i, j)
								}
								continue
							}
							want := twin(w[j*wStride:j*wStride+nb*size], a[i*aStride:i*aStride+nb*blockQ8_K], nb*qkK)
							if !sameFloat(got, want) {
								t.Fatalf("x%d nb=%d extreme=%v (%d, %d) = %g, want %g", na, nb, extreme, i, j, got, want)
							}
						}
					}
				}
			}
		})
	}
}

// TestKQ45PackedMatchesTwin runs the packed batch path (the tiler itself,
// packing included) on raw blocks, random and extreme, with rows left over
// on both sides, and compares every output's bits with the twin: batches
// of a few decode streams (weights laid out in registers) and from
// kq45PackMin rows on (weights packed in memory).
func TestKQ45PackedMatchesTwin(t *testing.T) {
	if !(hasAVX512VNNI && hasAVX512) {
		t.Skip("CPU lacks the instructions")
	}
	packers := map[gguf.Type]kq45Packer{
		gguf.TypeQ4_K: {prepQ4_KW4AVX512, tileQ4_KPackedx4AVX512, tileQ4_Kx4PackedAAVX512, tileQ4_Kx1AVX512},
		gguf.TypeQ5_K: {prepQ5_KW4AVX512, tileKPackedx4AVX512, tileQ5_Kx4PackedAAVX512, tileQ5_Kx1AVX512},
	}
	for typ, p := range packers {
		t.Run(typ.String(), func(t *testing.T) {
			twin := kq45Twins[typ]
			rng := rand.New(rand.NewPCG(9, uint64(typ)))
			size := typ.BlockBytes()
			nas := []int{1, 3, 4, 5, 7, kq45PackMin, 11, 17, 32, 37}
			for iter := 0; iter < 120; iter++ {
				nb := 1 + iter%9
				extreme := iter%4 == 3
				nw, na := 4+rng.IntN(9), nas[iter%len(nas)]
				wStride, aStride := nb*size+rng.IntN(2)*16, nb*blockQ8_K+rng.IntN(2)*8
				w := randKWeights(rng, typ, nw*wStride/size+1, extreme)
				a := randQ8KActs(rng, na*aStride/blockQ8_K+1, extreme)
				dStride := nw + 3
				dst := make([]float32, na*dStride)
				poisonFloats(dst)
				done := p.dotTile(dst, dStride, w, wStride, nw, a, aStride, na, nb*qkK)
				if want := nw &^ 3; na < 4 {
					if done != 0 {
						t.Fatalf("did %d rows of a %d-row batch (leaves them to the tiles)", done, na)
					}
					continue
				} else if done != want {
					t.Fatalf("did %d of %d rows", done, nw)
				}
				for i := 0; i < na; i++ {
					for j := 0; j < dStride; j++ {
						got := dst[i*dStride+j]
						if j >= done {
							if !math.IsNaN(float64(got)) {
								t.Fatalf("wrote (%d, %d)", i, j)
							}
							continue
						}
						want := twin(w[j*wStride:j*wStride+nb*size], a[i*aStride:i*aStride+nb*blockQ8_K], nb*qkK)
						if !sameFloat(got, want) {
							t.Fatalf("nb=%d %dx%d extreme=%v (%d, %d) = %g, want %g", nb, nw, na, extreme, i, j, got, want)
						}
					}
				}
			}
		})
	}
}

// BenchmarkTileKQ45 measures the 4x4 kernels on 64 weight rows by 64
// activation rows of 2048 values (GMAC/s) and the 4x1 kernels on a
// 5632x2048 matrix against one row (GB/s of weights).
func BenchmarkTileKQ45(b *testing.B) {
	for _, v := range kq45Variants() {
		if !v.ok {
			continue
		}
		b.Run(fmt.Sprintf("%s/x4", v.name), func(b *testing.B) {
			const n, nw, na = 2048, 64, 64
			f := mustFormat(b, v.typ)
			rng := rand.New(rand.NewPCG(1, 2))
			wRow, aRow := v.typ.RowBytes(n), f.DotType.RowBytes(n)
			w := normalScales(randKWeights(rng, v.typ, nw*n/qkK, false), v.typ.BlockBytes())
			a := randQ8KActs(rng, na*n/qkK, false)
			dst := make([]float32, nw*na)
			cpu0 := threadCPU()
			for b.Loop() {
				for j := 0; j < nw; j += 4 {
					for i := 0; i < na; i += 4 {
						v.t.x4(&w[j*wRow], wRow, &a[i*aRow], aRow, n/qkK, &dst[i*nw+j], nw)
					}
				}
			}
			b.ReportMetric(float64(n*nw*na)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
			b.ReportMetric(float64(n*nw*na)*float64(b.N)/(threadCPU()-cpu0)/1e9, "GMAC/cpu-s")
		})
		for _, packed := range []bool{true, false} {
			name := "tile"
			if !packed {
				name = "tile-unpacked"
			}
			b.Run(fmt.Sprintf("%s/%s", v.name, name), func(b *testing.B) {
				// DotTile as the CPU backend calls it: 256 weight rows by
				// 112 activation rows (packing included; unpacked: without
				// the batch tiler).
				const n, nw, na = 2048, 256, 112
				if v.name[:6] != "AVX512" {
					b.Skip("DotTile runs the machine's kernels: benchmarked once")
				}
				f := mustFormat(b, v.typ)
				if bt := batchTilers[f]; !packed && bt != nil {
					delete(batchTilers, f)
					defer func() { batchTilers[f] = bt }()
				}
				rng := rand.New(rand.NewPCG(1, 2))
				wRow, aRow := v.typ.RowBytes(n), f.DotType.RowBytes(n)
				w := normalScales(randKWeights(rng, v.typ, nw*n/qkK, false), v.typ.BlockBytes())
				a := randQ8KActs(rng, na*n/qkK, false)
				dst := make([]float32, nw*na)
				cpu0 := threadCPU()
				for b.Loop() {
					f.DotTile(dst, nw, w, wRow, nw, a, aRow, na, n)
				}
				b.ReportMetric(float64(n*nw*na)*float64(b.N)/(threadCPU()-cpu0)/1e9, "GMAC/cpu-s")
			})
		}
		for _, c := range []struct {
			na     int
			packed bool
		}{{4, true}, {8, true}, {8, false}} {
			name := fmt.Sprintf("streams%d", c.na)
			if !c.packed {
				name += "-unpacked"
			}
			packed, na := c.packed, c.na
			b.Run(fmt.Sprintf("%s/%s", v.name, name), func(b *testing.B) {
				// DotTile as batched decode of a few streams calls it: a
				// 2048x768 matrix (the 110M shape's FFN gate) against na
				// activation rows (unpacked: the 4x4 tiles).
				const n, nw = 768, 2048
				if v.name[:6] != "AVX512" {
					b.Skip("DotTile runs the machine's kernels: benchmarked once")
				}
				f := mustFormat(b, v.typ)
				if bt := batchTilers[f]; !packed && bt != nil {
					delete(batchTilers, f)
					defer func() { batchTilers[f] = bt }()
				}
				rng := rand.New(rand.NewPCG(1, 2))
				wRow, aRow := v.typ.RowBytes(n), f.DotType.RowBytes(n)
				w := normalScales(randKWeights(rng, v.typ, nw*n/qkK, false), v.typ.BlockBytes())
				a := randQ8KActs(rng, na*n/qkK, false)
				dst := make([]float32, nw*na)
				cpu0 := threadCPU()
				for b.Loop() {
					f.DotTile(dst, nw, w, wRow, nw, a, aRow, na, n)
				}
				b.ReportMetric(float64(n*nw*na)*float64(b.N)/(threadCPU()-cpu0)/1e9, "GMAC/cpu-s")
			})
		}
		b.Run(fmt.Sprintf("%s/x1", v.name), func(b *testing.B) {
			const n, nw = 2048, 5632
			rng := rand.New(rand.NewPCG(1, 2))
			wRow := v.typ.RowBytes(n)
			w := normalScales(randKWeights(rng, v.typ, nw*n/qkK, false), v.typ.BlockBytes())
			a := randQ8KActs(rng, n/qkK, false)
			dst := make([]float32, nw)
			b.SetBytes(int64(len(w)))
			cpu0 := threadCPU()
			for b.Loop() {
				for j := 0; j < nw; j += 4 {
					v.t.x1(&w[j*wRow], wRow, &a[0], 0, n/qkK, &dst[j], 0)
				}
			}
			b.ReportMetric(float64(len(w))*float64(b.N)/(threadCPU()-cpu0)/1e9, "GB/cpu-s")
		})
	}
}

// threadCPU is the CPU seconds the calling thread has run (benchmarks on a
// shared machine report rates per CPU second as well as per wall second).
func threadCPU() float64 {
	runtime.LockOSThread()
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// normalScales gives every block of w typical d and dmin (about 1e-3; fp16
// subnormals are slow to convert on some CPUs, and rare in real weights).
func normalScales(w []byte, size int) []byte {
	for i := 0; i < len(w); i += size {
		w[i+1], w[i+3] = 0x14, 0x14
	}
	return w
}

// BenchmarkDotKQ45 measures Format.Dot (one row of 2048 values, 5632 rows)
// against the 4x1 tile with the row as all four weight rows (the Dot before
// the one-row kernel), in GB of weights per CPU second.
func BenchmarkDotKQ45(b *testing.B) {
	for _, typ := range []gguf.Type{gguf.TypeQ4_K, gguf.TypeQ5_K} {
		for _, old := range []bool{false, true} {
			name := typ.String() + "/Dot"
			if old {
				name = typ.String() + "/x1-stride0"
				if !(hasAVX512VNNI && hasAVX512) {
					continue
				}
			}
			b.Run(name, func(b *testing.B) {
				const n, nw = 2048, 5632
				f := mustFormat(b, typ)
				x1 := map[gguf.Type]tileKernel{gguf.TypeQ4_K: tileQ4_Kx1AVX512, gguf.TypeQ5_K: tileQ5_Kx1AVX512}[typ]
				rng := rand.New(rand.NewPCG(1, 2))
				wRow := typ.RowBytes(n)
				w := normalScales(randKWeights(rng, typ, nw*n/qkK, false), typ.BlockBytes())
				a := randQ8KActs(rng, n/qkK, false)
				var out [4]float32
				cpu0 := threadCPU()
				for b.Loop() {
					for j := 0; j < nw; j++ {
						if old {
							x1(&w[j*wRow], 0, &a[0], 0, n/qkK, &out[0], 0)
						} else {
							out[0] = f.Dot(w[j*wRow:(j+1)*wRow], a, n)
						}
					}
				}
				b.ReportMetric(float64(len(w))*float64(b.N)/(threadCPU()-cpu0)/1e9, "GB/cpu-s")
			})
		}
	}
}

// BenchmarkDecodeStreamKQ45 measures the 4x1 kernels as decode runs them: one
// activation row against a 64 MB weight matrix of 2048 values a row (far
// larger than the caches, so the weights stream from memory), in GB of
// weights per CPU second.
func BenchmarkDecodeStreamKQ45(b *testing.B) {
	for _, v := range kq45Variants() {
		if !v.ok || v.name[:2] == "Go" {
			continue
		}
		b.Run(v.name, func(b *testing.B) {
			const n = 2048
			wRow := v.typ.RowBytes(n)
			nw := (64 << 20) / wRow &^ 3
			rng := rand.New(rand.NewPCG(1, 2))
			w := normalScales(randKWeights(rng, v.typ, nw*n/qkK, false), v.typ.BlockBytes())
			a := randQ8KActs(rng, n/qkK, false)
			dst := make([]float32, nw)
			cpu0 := threadCPU()
			for b.Loop() {
				for j := 0; j < nw; j += 4 {
					v.t.x1(&w[j*wRow], wRow, &a[0], 0, n/qkK, &dst[j], 0)
				}
			}
			gb := float64(len(w)) * float64(b.N) / 1e9
			b.ReportMetric(gb/b.Elapsed().Seconds(), "GB/s")
			b.ReportMetric(gb/(threadCPU()-cpu0), "GB/cpu-s")
		})
	}
}
