package kernels

import (
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/conveyor-llm/conveyor/gguf"
)

// smallqTwins are the Go dots the small-block kernels must reproduce.
var smallqTwins = map[gguf.Type]func(w, a []byte, n int) float32{
	gguf.TypeQ4_1:   dotQ4_1,
	gguf.TypeQ5_0:   dotQ5_0,
	gguf.TypeQ5_1:   dotQ5_1,
	gguf.TypeIQ4_NL: dotIQ4_NL,
	gguf.TypeIQ4_XS: dotIQ4_XS,
}

// smallqScaleFields are the byte offsets of a block's fp16 scales (f32 for
// Q8_K), set to moderate values in raw random blocks.
var smallqScaleFields = map[gguf.Type][]int{
	gguf.TypeQ4_1: {0, 2}, gguf.TypeQ5_0: {0}, gguf.TypeQ5_1: {0, 2},
	gguf.TypeIQ4_NL: {0}, gguf.TypeIQ4_XS: {0},
	gguf.TypeQ8_0: {0}, gguf.TypeQ8_1: {0, 2},
}

// smallqRows fills rows of typ with n values each, stride apart: mode 0
// quantized random floats, 1 random bytes with moderate scales, 2 and 3
// extreme bytes (all 0xff / 0x80 and 0x7f alternating by row) with the
// largest scales that keep every sum finite.
func smallqRows(rng *rand.Rand, typ gguf.Type, rows, n, stride, mode int) []byte {
	b := make([]byte, rows*stride)
	rb := typ.RowBytes(n)
	bs, bb := typ.BlockSize(), typ.BlockBytes()
	for r := 0; r < rows; r++ {
		row := b[r*stride : r*stride+rb]
		switch mode {
		case 0:
			x := randFloats(rng, n, -2, 2)
			if typ == gguf.TypeQ8_0 || typ == gguf.TypeQ8_1 || typ == gguf.TypeQ8_K {
				QuantizeActivations(typ, row, x)
			} else {
				formats[typ].Quantize(row, x)
			}
			continue
		case 1:
			for i := range row {
				row[i] = byte(rng.Uint32())
			}
		default:
			v := byte(0xff)
			if typ == gguf.TypeQ8_0 || typ == gguf.TypeQ8_1 || typ == gguf.TypeQ8_K {
				v = 0x80
				if (r+mode)%2 == 1 {
					v = 0x7f
				}
			}
			for i := range row {
				row[i] = v
			}
		}
		for blk := 0; blk < n/bs; blk++ {
			if typ == gguf.TypeQ8_K {
				s := float32(1 + rng.Float64())
				if mode >= 2 {
					s = 1 << 20
				}
				putF32(row[blk*bb:], s)
				continue
			}
			for _, off := range smallqScaleFields[typ] {
				s := float32(rng.NormFloat64())
				if mode >= 2 {
					s = 60000
					if typ == gguf.TypeQ8_0 || typ == gguf.TypeQ8_1 {
						s = 2e-5
					}
				}
				putF16(row[blk*bb+off:], s)
			}
		}
	}
	return b
}

// checkSmallqTiles runs a tile kernel pair over random shapes and compares
// every output with the twin, bit for bit.
func checkSmallqTiles(t *testing.T, typ gguf.Type, k tiles) {
	f := formats[typ]
	twin := smallqTwins[typ]
	bs := typ.BlockSize()
	rng := rand.New(rand.NewPCG(11, uint64(typ)))
	for iter := 0; iter < 200; iter++ {
		nb := 1 + rng.IntN(20)
		if bs == 256 {
			nb = 1 + rng.IntN(5)
		}
		n := nb * bs
		mode := iter % 4
		wRow, aRow := typ.RowBytes(n), f.DotType.RowBytes(n)
		wStride, aStride, oStride := wRow+rng.IntN(3)*7, aRow+rng.IntN(3)*5, 4+rng.IntN(3)
		w := smallqRows(rng, typ, 4, n, wStride, mode)
		a := smallqRows(rng, f.DotType, 4, n, aStride, mode)
		for _, rows := range []int{4, 1} {
			out := make([]float32, 4*oStride)
			poisonFloats(out)
			kern := k.x4
			if rows == 1 {
				kern = k.x1
			}
			kern(&w[0], wStride, &a[0], aStride, nb, &out[0], oStride)
			for i := 0; i < 4; i++ {
				for j := 0; j < oStride; j++ {
					got := out[i*oStride+j]
					if i >= rows || j >= 4 {
						if !math.IsNaN(float64(got)) {
							t.Fatalf("x%d wrote outside the tile at (%d, %d)", rows, i, j)
						}
						continue
					}
					want := twin(w[j*wStride:j*wStride+wRow], a[i*aStride:i*aStride+aRow], n)
					if math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("x%d mode %d nb=%d: (%d, %d) = %g (%#x), want %g (%#x)",
							rows, mode, nb, i, j, got, math.Float32bits(got), want, math.Float32bits(want))
					}
				}
			}
		}
	}
}

func TestSmallqVNNITiles(t *testing.T) {
	if !hasSmallqVNNI {
		t.Skip("no AVX-512 VNNI")
	}
	for typ, k := range smallqVNNI {
		t.Run(typ.String(), func(t *testing.T) { checkSmallqTiles(t, typ, k) })
	}
}

// TestSmallqAVX2Tiles checks the AVX2 kernels (called directly, whatever
// the machine registers) against the twins: the tiles as
// TestSmallqVNNITiles, the single-row kernels at random lengths.
func TestSmallqAVX2Tiles(t *testing.T) {
	if !hasSmallqAVX2 {
		t.Skip("no AVX2")
	}
	for typ, k := range smallqAVX2 {
		t.Run(typ.String(), func(t *testing.T) {
			checkSmallqTiles(t, typ, k)
			checkSmallqDot(t, typ, oneDot(typ, smallqDotAVX2[typ]))
		})
	}
}

// TestSmallqVNNIDots checks the VNNI single-row kernels (called directly).
func TestSmallqVNNIDots(t *testing.T) {
	if !hasSmallqVNNI {
		t.Skip("no AVX-512 VNNI")
	}
	for typ, k := range smallqDotVNNI {
		t.Run(typ.String(), func(t *testing.T) { checkSmallqDot(t, typ, oneDot(typ, k)) })
	}
}

// checkSmallqDot compares a single-row dot with the twin, bit for bit.
func checkSmallqDot(t *testing.T, typ gguf.Type, dot func(w, a []byte, n int) float32) {
	f := formats[typ]
	twin := smallqTwins[typ]
	rng := rand.New(rand.NewPCG(17, uint64(typ)))
	for iter := 0; iter < 200; iter++ {
		n := typ.BlockSize() * (1 + rng.IntN(40))
		mode := iter % 4
		w := smallqRows(rng, typ, 1, n, typ.RowBytes(n), mode)
		a := smallqRows(rng, f.DotType, 1, n, f.DotType.RowBytes(n), mode)
		got, want := dot(w, a, n), twin(w, a, n)
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("mode %d n=%d: %g (%#x), want %g (%#x)", mode, n, got, math.Float32bits(got), want, math.Float32bits(want))
		}
	}
}

// TestSmallqDotTile checks DotTile and Dot (whatever this machine runs)
// against the twins at awkward shapes: weight rows not a multiple of 4, one
// row, batches of 1 and 17.
func TestSmallqDotTile(t *testing.T) {
	for typ, twin := range smallqTwins {
		t.Run(typ.String(), func(t *testing.T) {
			f := formats[typ]
			bs := typ.BlockSize()
			rng := rand.New(rand.NewPCG(13, uint64(typ)))
			for iter := 0; iter < 40; iter++ {
				n := bs * (1 + rng.IntN(12))
				nw := []int{1, 3, 4, 5, 7, 8, 11}[iter%7]
				na := []int{1, 17, 4, 5, 2}[iter%5]
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
						want := twin(wj, ai, n)
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

// benchSmallq reports GMAC/s for 4x4 tiles over 64 weight rows × 64
// activation rows of 2048 values, and GB/s of weights for 4x1 tiles over a
// 5632 × 2048 matrix (decode).
//
// With SMALLQ_BENCH_GO=1 set, the Go twins run instead (the speed before);
// with SMALLQ_BENCH_AVX2=1, the AVX2 kernels.
func benchSmallq(b *testing.B, typ gguf.Type) {
	f := formats[typ]
	if k, ok := smallqAVX2[typ]; ok && hasSmallqAVX2 && os.Getenv("SMALLQ_BENCH_AVX2") == "1" {
		k0, hasK := tileKernels[f]
		dot := f.Dot
		tileKernels[f] = k
		f.Dot = oneDot(typ, smallqDotAVX2[typ])
		defer func() {
			delete(tileKernels, f)
			if hasK {
				tileKernels[f] = k0
			}
			f.Dot = dot
		}()
	}
	if os.Getenv("SMALLQ_BENCH_GO") == "1" {
		k, hasK := tileKernels[f]
		dot := f.Dot
		delete(tileKernels, f)
		f.Dot = smallqTwins[typ]
		defer func() {
			if hasK {
				tileKernels[f] = k
			}
			f.Dot = dot
		}()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b.Run("x4", func(b *testing.B) {
		const n, rows = 2048, 64
		w := smallqRows(rng, typ, rows, n, typ.RowBytes(n), 0)
		a := smallqRows(rng, f.DotType, rows, n, f.DotType.RowBytes(n), 0)
		dst := make([]float32, rows*rows)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		b.ResetTimer()
		cpu0 := smallqThreadCPU()
		for range b.N {
			f.DotTile(dst, rows, w, typ.RowBytes(n), rows, a, f.DotType.RowBytes(n), rows, n)
		}
		b.ReportMetric(float64(b.N)*rows*rows*n/b.Elapsed().Seconds()/1e9, "GMAC/s")
		b.ReportMetric(float64(b.N)*rows*rows*n/(smallqThreadCPU()-cpu0)/1e9, "GMAC/cpu-s")
	})
	b.Run("x1", func(b *testing.B) {
		const n, rows = 2048, 5632
		w := smallqRows(rng, typ, rows, n, typ.RowBytes(n), 0)
		a := smallqRows(rng, f.DotType, 1, n, f.DotType.RowBytes(n), 0)
		dst := make([]float32, rows)
		b.SetBytes(int64(len(w)))
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		b.ResetTimer()
		cpu0 := smallqThreadCPU()
		for range b.N {
			f.DotTile(dst, rows, w, typ.RowBytes(n), rows, a, f.DotType.RowBytes(n), 1, n)
		}
		b.ReportMetric(float64(b.N)*float64(len(w))/(smallqThreadCPU()-cpu0)/1e9, "GB/cpu-s")
	})
	b.Run("dot", func(b *testing.B) {
		const n, rows = 2048, 512
		wRow, aRow := typ.RowBytes(n), f.DotType.RowBytes(n)
		w := smallqRows(rng, typ, rows, n, wRow, 0)
		a := smallqRows(rng, f.DotType, 1, n, aRow, 0)
		b.SetBytes(int64(len(w)))
		var sink float32
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		b.ResetTimer()
		cpu0 := smallqThreadCPU()
		for range b.N {
			for j := 0; j < rows; j++ {
				sink += f.Dot(w[j*wRow:(j+1)*wRow], a, n)
			}
		}
		b.ReportMetric(float64(b.N)*float64(len(w))/(smallqThreadCPU()-cpu0)/1e9, "GB/cpu-s")
		_ = sink
	})
}

// smallqThreadCPU is the CPU seconds the calling thread has run (the
// benchmarks lock their goroutine to its thread), to the nanosecond: on a
// machine shared with other jobs, rates per CPU second move much less than
// rates per wall second.
func smallqThreadCPU() float64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return math.NaN()
	}
	return float64(ts.Nano()) / 1e9
}

func BenchmarkTileQ4_1(b *testing.B)   { benchSmallq(b, gguf.TypeQ4_1) }
func BenchmarkTileQ5_0(b *testing.B)   { benchSmallq(b, gguf.TypeQ5_0) }
func BenchmarkTileQ5_1(b *testing.B)   { benchSmallq(b, gguf.TypeQ5_1) }
func BenchmarkTileIQ4_NL(b *testing.B) { benchSmallq(b, gguf.TypeIQ4_NL) }
func BenchmarkTileIQ4_XS(b *testing.B) { benchSmallq(b, gguf.TypeIQ4_XS) }
