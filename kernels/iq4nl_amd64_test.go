package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// iq4NLVariant is one way DotTile and Dot can run IQ4_NL, and whether this
// machine can run it.
type iq4NLVariant struct {
	name   string
	ok     bool
	batch  batchTiler // nil: none
	packer *actPacker // nil: none
	tiles  *tiles     // nil: none
	dot    func(w, a []byte, n int) float32
}

func iq4NLVariants() []iq4NLVariant {
	typ := gguf.TypeIQ4_NL
	vnni, avx2 := smallqVNNI[typ], smallqAVX2[typ]
	packer := actPacker{iq4NLPackActs, iq4NLDotTilePackedA}
	return []iq4NLVariant{
		{"AVX512-packed", hasSmallqVNNI, iq4NLDotTile, &packer, &vnni, oneDot(typ, dotIQ4_NLVNNI)},
		{"AVX512-tiles", hasSmallqVNNI, nil, nil, &vnni, oneDot(typ, dotIQ4_NLVNNI)},
		{"AVX2-packed", hasSmallqAVX2, iq4NLDotTileAVX2, nil, &avx2, oneDot(typ, dotIQ4_NLAVX2)},
		{"AVX2", hasSmallqAVX2, nil, nil, &avx2, oneDot(typ, dotIQ4_NLAVX2)},
		{"Go", true, nil, nil, nil, dotIQ4_NL},
	}
}

// use makes v the IQ4_NL format's kernels until the returned func restores
// them.
func (v iq4NLVariant) use() (restore func()) {
	f := formats[gguf.TypeIQ4_NL]
	bt, hasBT := batchTilers[f]
	ap, hasAP := actPackers[f]
	tk, hasTK := tileKernels[f]
	dot := f.Dot
	delete(batchTilers, f)
	delete(actPackers, f)
	delete(tileKernels, f)
	if v.batch != nil {
		batchTilers[f] = v.batch
	}
	if v.packer != nil {
		actPackers[f] = *v.packer
	}
	if v.tiles != nil {
		tileKernels[f] = *v.tiles
	}
	f.Dot = v.dot
	return func() {
		delete(batchTilers, f)
		delete(actPackers, f)
		delete(tileKernels, f)
		if hasBT {
			batchTilers[f] = bt
		}
		if hasAP {
			actPackers[f] = ap
		}
		if hasTK {
			tileKernels[f] = tk
		}
		f.Dot = dot
	}
}

// TestIQ4_NLVariantsDotTile forces each IQ4_NL variant this CPU can run and
// checks DotTile, DotTilePacked and Dot against dotIQ4_NL bit for bit at
// awkward shapes (weight rows not a multiple of 4 or of 8, one row, batches
// of 1, 8, 17 and others), on random and extreme blocks, outputs poisoned
// first.
func TestIQ4_NLVariantsDotTile(t *testing.T) {
	typ := gguf.TypeIQ4_NL
	f := formats[typ]
	for _, v := range iq4NLVariants() {
		t.Run(v.name, func(t *testing.T) {
			if !v.ok {
				t.Skip("this CPU cannot run it")
			}
			defer v.use()()
			rng := rand.New(rand.NewPCG(37, 5))
			for iter := 0; iter < 84; iter++ {
				n := qkIQ4_NL * (1 + rng.IntN(70))
				nw := []int{1, 3, 4, 5, 7, 8, 11, 12, 13, 20, 24}[iter%11]
				na := []int{1, 17, 8, 9, 2, 12, 16}[iter%7]
				mode := iter % 4
				wRow, aRow := typ.RowBytes(n), f.DotType.RowBytes(n)
				wStride, aStride, dStride := wRow+rng.IntN(2)*3, aRow+rng.IntN(2)*9, nw+rng.IntN(3)
				w := smallqRows(rng, typ, nw, n, wStride, mode)
				a := smallqRows(rng, f.DotType, na, n, aStride, mode)
				var packed PackedActs
				for _, how := range []string{"DotTile", "DotTilePacked"} {
					dst := make([]float32, na*dStride)
					poisonFloats(dst)
					if how == "DotTile" {
						f.DotTile(dst, dStride, w, wStride, nw, a, aStride, na, n)
					} else {
						f.PackActs(&packed, a, aStride, na, n)
						f.DotTilePacked(dst, dStride, w, wStride, nw, &packed)
					}
					for i := 0; i < na; i++ {
						for j := 0; j < dStride; j++ {
							got := dst[i*dStride+j]
							if j >= nw {
								if !math.IsNaN(float64(got)) {
									t.Fatalf("%s wrote outside the tile at (%d, %d)", how, i, j)
								}
								continue
							}
							wj, ai := w[j*wStride:j*wStride+wRow], a[i*aStride:i*aStride+aRow]
							want := dotIQ4_NL(wj, ai, n)
							if math.Float32bits(got) != math.Float32bits(want) {
								t.Fatalf("%s mode %d n=%d %dx%d: (%d, %d) = %g (%#x), want %g (%#x)", how, mode, n, nw, na,
									i, j, got, math.Float32bits(got), want, math.Float32bits(want))
							}
							if d := f.Dot(wj, ai, n); math.Float32bits(d) != math.Float32bits(want) {
								t.Fatalf("Dot mode %d n=%d: %g, want %g", mode, n, d, want)
							}
						}
					}
				}
			}
		})
	}
}

// BenchmarkTileIQ4_NLVariants times DotTile on 64 weight rows × 64 and × 8
// activation rows (IQ4_NL_BENCH_N values, 2048 by default) for each IQ4_NL
// variant this CPU can run but Go ("-packed" the batch paths, activations
// packed each call as MatMul runs them; "AVX512-tiles" the 4x4 tiles they
// replace), and IQ4_XS's batch path on the same shape for scale.
func BenchmarkTileIQ4_NLVariants(b *testing.B) {
	const rows = 64
	n := envInt("IQ4_NL_BENCH_N", 2048)
	run := func(b *testing.B, typ gguf.Type, na int) {
		f := formats[typ]
		rng := rand.New(rand.NewPCG(1, 2))
		wRow, aRow := typ.RowBytes(n), f.DotType.RowBytes(n)
		w := smallqRows(rng, typ, rows, n, wRow, 0)
		a := smallqRows(rng, f.DotType, na, n, aRow, 0)
		dst := make([]float32, na*rows)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		b.ResetTimer()
		cpu0 := smallqThreadCPU()
		for range b.N {
			f.DotTile(dst, rows, w, wRow, rows, a, aRow, na, n)
		}
		b.ReportMetric(float64(b.N)*rows*float64(na*n)/(smallqThreadCPU()-cpu0)/1e9, "GMAC/cpu-s")
	}
	for _, na := range []int{64, 8} {
		for _, v := range iq4NLVariants() {
			if !v.ok || v.name == "Go" {
				continue
			}
			b.Run(fmt.Sprintf("na%d/IQ4_NL-%s", na, v.name), func(b *testing.B) {
				defer v.use()()
				run(b, gguf.TypeIQ4_NL, na)
			})
		}
		if hasSmallqVNNI {
			b.Run(fmt.Sprintf("na%d/IQ4_XS-AVX512-packed", na), func(b *testing.B) { run(b, gguf.TypeIQ4_XS, na) })
		}
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}
