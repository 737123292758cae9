package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// MatMulID's every output is Format.Dot of the chosen expert's row and the
// token's (or slot's) activations, bit for bit, for every weight type and
// awkward sizes (experts of rows not a multiple of the tile, tokens choosing
// the same expert, experts nobody chose), whatever the thread count.
func TestMoEMatMulIDIsOneDotPerOutput(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, threads := range []int{1, 3} {
		b := New(threads)
		for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_K, gguf.TypeQ6_K, gguf.TypeIQ4_NL, gguf.TypeMXFP4} {
			f, err := kernels.FormatOf(typ)
			require.NoError(t, err)
			k := 256
			for _, shape := range [][4]int{{1, 7, 2, 13}, {5, 8, 3, 37}, {11, 4, 4, 64}, {3, 9, 1, 5}} {
				n, experts, used, m := shape[0], shape[1], shape[2], shape[3]
				w := newTensor(t, b, typ, experts*m, k)
				wf := make([]float32, experts*m*k)
				for i := range wf {
					wf[i] = float32(rng.NormFloat64())
				}
				kernels.QuantizeRow(typ, raw(w), wf)
				idx := make([]int32, n*used)
				for i := range n {
					perm := rng.Perm(experts)
					for j := range used {
						idx[i*used+j] = int32(perm[j])
					}
				}
				ids := newTensor(t, b, gguf.TypeI32, n, used)
				copy(i32s(ids), idx)
				for _, perSlot := range []bool{false, true} {
					rows := n
					if perSlot {
						rows = n * used
					}
					x, xs := randomF32(t, b, rng, rows, k)
					dst := poisoned(t, b, n*used, m)
					b.MatMulID(dst, w, x, ids)
					out := f32s(dst)
					wRow, aRow := typ.RowBytes(k), f.DotType.RowBytes(k)
					act := make([]byte, aRow)
					for s := range n * used {
						src := s / used
						if perSlot {
							src = s
						}
						kernels.QuantizeActivations(f.DotType, act, xs[src*k:(src+1)*k])
						e := int(idx[s])
						for j := range m {
							want := f.Dot(raw(w)[(e*m+j)*wRow:(e*m+j+1)*wRow], act, k)
							require.Equal(t, math.Float32bits(want), math.Float32bits(out[s*m+j]),
								"%v threads=%d shape=%v perSlot=%v slot %d row %d", typ, threads, shape, perSlot, s, j)
						}
					}
				}
			}
		}
		b.Close()
	}
}

// A decode step's MatMulID (one token, its experts' dots split among the
// threads) allocates nothing once its scratch has grown.
func TestMoEMatMulIDDecodeAllocatesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	b := New(2)
	defer b.Close()
	const experts, used, m, k = 16, 4, 64, 256
	w := newTensor(t, b, gguf.TypeQ4_K, experts*m, k)
	kernels.QuantizeRow(gguf.TypeQ4_K, raw(w), make([]float32, experts*m*k))
	ids := newTensor(t, b, gguf.TypeI32, 1, used)
	copy(i32s(ids), []int32{3, 9, 0, 14})
	x, _ := randomF32(t, b, rng, 1, k)
	dst := poisoned(t, b, used, m)
	b.MatMulID(dst, w, x, ids)
	require.Zero(t, testing.AllocsPerRun(50, func() { b.MatMulID(dst, w, x, ids) }))
}

// Route chooses the largest logits and weights them as each gating says.
func TestMoERouteGatings(t *testing.T) {
	b := New(1)
	defer b.Close()
	logits := newTensor(t, b, gguf.TypeF32, 2, 5)
	copy(f32s(logits), []float32{0.5, 2, -1, 2, 1.5, 3, -2, 0, 1, 3.5})
	ids := newTensor(t, b, gguf.TypeI32, 2, 2)
	w := newTensor(t, b, gguf.TypeF32, 2, 2)
	for _, g := range []backend.Gating{backend.GatingSoftmax, backend.GatingTopKSoftmax} {
		b.Route(ids, w, logits, g)
		require.Equal(t, []int32{1, 3, 4, 0}, i32s(ids), "ties go to the lower id")
		// Both gatings give a softmax over the chosen logits.
		require.InDelta(t, 0.5, f32s(w)[0], 1e-6)
		require.InDelta(t, 0.5, f32s(w)[1], 1e-6)
		require.InDelta(t, 1/(1+math.Exp(-0.5)), f32s(w)[2], 1e-6)
		require.InDelta(t, 1/(1+math.Exp(0.5)), f32s(w)[3], 1e-6)
	}
}

// MoESum is the weighted sum of each token's expert outputs.
func TestMoESum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b := New(2)
	defer b.Close()
	n, used, d := 3, 4, 19
	x, xs := randomF32(t, b, rng, n*used, d)
	w, ws := randomF32(t, b, rng, n, used)
	dst := poisoned(t, b, n, d)
	b.MoESum(dst, x, w)
	want := make([]float64, n*d)
	for i := range n {
		for j := range used {
			for c := range d {
				want[i*d+c] += float64(ws[i*used+j]) * float64(xs[(i*used+j)*d+c])
			}
		}
	}
	require.Less(t, relErr(t, f32s(dst), want), 1e-6)
}

// BenchmarkMoEMatMulID is one Qwen3-30B-A3B expert matmul (128 experts of
// 768 rows of 2048, 8 used per token) for a decode token and a 512-token
// prefill, beside a dense MatMul over as many weight rows as one token reads
// (8 experts' worth), as many multiply-adds as the MoE matmul.
func BenchmarkMoEMatMulID(b *testing.B) {
	const experts, used, m, k = 128, 8, 768, 2048
	for _, typ := range []gguf.Type{gguf.TypeQ4_K, gguf.TypeQ6_K} {
		be := New(2)
		rng := rand.New(rand.NewPCG(1, 2))
		w := newTensor(b, be, typ, experts*m, k)
		// One expert's random weights, copied to every expert.
		wf := make([]float32, m*k)
		for i := range wf {
			wf[i] = float32(rng.NormFloat64())
		}
		eBytes := m * int(typ.RowBytes(k))
		kernels.QuantizeRow(typ, raw(w)[:eBytes], wf)
		for e := 1; e < experts; e++ {
			copy(raw(w)[e*eBytes:], raw(w)[:eBytes])
		}
		for _, n := range []int{1, 512} {
			ids := newTensor(b, be, gguf.TypeI32, n, used)
			for i := range n {
				for j, e := range rng.Perm(experts)[:used] {
					i32s(ids)[i*used+j] = int32(e)
				}
			}
			x, _ := randomF32(b, be, rng, n, k)
			dst := newTensor(b, be, gguf.TypeF32, n*used, m)
			b.Run(fmt.Sprintf("%v/n=%d", typ, n), func(b *testing.B) {
				for range b.N {
					be.MatMulID(dst, w, x, ids)
				}
			})
		}
		dense := w
		dense.Rows = used * m
		for _, n := range []int{1, 512} {
			x, _ := randomF32(b, be, rng, n, k)
			dst := newTensor(b, be, gguf.TypeF32, n, used*m)
			b.Run(fmt.Sprintf("%v/dense-n=%d", typ, n), func(b *testing.B) {
				for range b.N {
					be.MatMul(dst, dense, x)
				}
			})
		}
		be.Close()
	}
}
