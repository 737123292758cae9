package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
	"github.com/stretchr/testify/require"
)

// TestMatMulIsOneDotPerOutput pins every output of the tiled, threaded
// MatMul to one Format.Dot of its weight row and its converted activation
// row, bit for bit, over shapes that leave partial tiles and thread chunks.
func TestMatMulIsOneDotPerOutput(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, threads := range []int{1, 2, 3} {
		b := New(threads)
		for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeF16} {
			f, err := kernels.FormatOf(typ)
			require.NoError(t, err)
			for _, shape := range [][3]int{{1, 7, 64}, {5, 33, 96}, {9, 70, 256}, {4, 4, 32}, {13, 129, 2048}} {
				n, m, k := shape[0], shape[1], shape[2]
				x, xs := randomF32(t, b, rng, n, k)
				wf := make([]float32, m*k)
				for i := range wf {
					wf[i] = float32(rng.NormFloat64())
				}
				w := newTensor(t, b, typ, m, k)
				kernels.QuantizeRow(typ, raw(w), wf)
				std := append([]byte(nil), raw(w)...) // MatMul may pack raw(w) in place
				dst := poisoned(t, b, n, m)
				b.MatMul(dst, w, x)
				back := make([]byte, len(std))
				require.NoError(t, b.Read(w, back))
				require.Equal(t, std, back, "%v: Read of the weights after MatMul", typ)
				out := f32s(dst)
				wRow, aRow := typ.RowBytes(k), f.DotType.RowBytes(k)
				act := make([]byte, aRow)
				for i := 0; i < n; i++ {
					kernels.QuantizeActivations(f.DotType, act, xs[i*k:(i+1)*k])
					for j := 0; j < m; j++ {
						want := f.Dot(std[j*wRow:(j+1)*wRow], act, k)
						require.Equal(t, math.Float32bits(want), math.Float32bits(out[i*m+j]),
							"%v threads=%d n=%d m=%d k=%d (%d, %d)", typ, threads, n, m, k, i, j)
					}
				}
			}
		}
		b.Close()
	}
}

func TestMatMulAllocatesNothing(t *testing.T) {
	b := New(2)
	defer b.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 8} {
		x, _ := randomF32(t, b, rng, n, 256)
		w := newTensor(t, b, gguf.TypeQ4_0, 64, 256)
		kernels.QuantizeRow(gguf.TypeQ4_0, raw(w), make([]float32, 64*256))
		dst := poisoned(t, b, n, 64)
		b.MatMul(dst, w, x) // sizes the scratch
		if allocs := testing.AllocsPerRun(100, func() { b.MatMul(dst, w, x) }); allocs != 0 {
			t.Errorf("n=%d: MatMul allocates %v times per call", n, allocs)
		}
	}
}

func TestPoolAllocatesNothing(t *testing.T) {
	p := newPool(3)
	defer p.close()
	sums := make([]int, 100)
	body := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			sums[i]++
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { p.parallelFor(len(sums), 1, body) }); allocs != 0 {
		t.Errorf("parallelFor allocates %v times per loop", allocs)
	}
	for i, s := range sums {
		require.Equal(t, 101, s, "index %d", i) // 100 runs plus AllocsPerRun's warm-up
	}
	// A nested loop runs on its caller instead of deadlocking; each outer
	// chunk counts into its own slice.
	nested := make([][]int, 4)
	p.parallelFor(4, 1, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			nested[o] = make([]int, 10)
			p.parallelFor(10, 1, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					nested[o][i]++
				}
			})
		}
	})
	for o := range nested {
		for i, c := range nested[o] {
			require.Equal(t, 1, c, "nested loop %d index %d", o, i)
		}
	}
}

func benchMatMul(bb *testing.B, typ gguf.Type, n, m, k int) {
	b := New(0)
	defer b.Close()
	rng := rand.New(rand.NewPCG(7, 8))
	t := &testing.T{}
	x, _ := randomF32(t, b, rng, n, k)
	w := newTensor(t, b, typ, m, k)
	wf := make([]float32, m*k)
	for i := range wf {
		wf[i] = float32(rng.NormFloat64())
	}
	kernels.QuantizeRow(typ, raw(w), wf)
	dst := poisoned(t, b, n, m)
	bb.SetBytes(w.Bytes())
	for bb.Loop() {
		b.MatMul(dst, w, x)
	}
}

func BenchmarkMatMulQ4_0Decode(b *testing.B)  { benchMatMul(b, gguf.TypeQ4_0, 1, 2048, 2048) }
func BenchmarkMatMulQ4_0Prefill(b *testing.B) { benchMatMul(b, gguf.TypeQ4_0, 64, 2048, 2048) }
func BenchmarkMatMulQ8_0Decode(b *testing.B)  { benchMatMul(b, gguf.TypeQ8_0, 1, 2048, 2048) }
