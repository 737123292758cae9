package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
	"github.com/stretchr/testify/require"
)

// TestPackedWeightsReadBack checks what the other ops see of weights a
// MatMul packed: GetRows and Read give the standard rows; a Write replaces
// the packing; a MatMul over a slice of packed rows, or the whole after a
// slice, gives every output as one Dot of the standard rows.
func TestPackedWeightsReadBack(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	b := New(2)
	defer b.Close()
	for _, typ := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ4_0} {
		f, err := kernels.FormatOf(typ)
		require.NoError(t, err)
		const m, k = 50, 128
		wf := make([]float32, m*k)
		for i := range wf {
			wf[i] = float32(rng.NormFloat64())
		}
		w := newTensor(t, b, typ, m, k)
		kernels.QuantizeRow(typ, raw(w), wf)
		std := append([]byte(nil), raw(w)...)
		rowBytes := int(typ.RowBytes(k))

		check := func(what string, wt, x tensorView) {
			t.Helper()
			dst := poisoned(t, b, x.t.Rows, wt.t.Rows)
			b.MatMul(dst, wt.t, x.t)
			act := make([]byte, f.DotType.RowBytes(k))
			out := f32s(dst)
			for i := 0; i < x.t.Rows; i++ {
				kernels.QuantizeActivations(f.DotType, act, x.xs[i*k:(i+1)*k])
				for j := 0; j < wt.t.Rows; j++ {
					row := wt.std[j*rowBytes : (j+1)*rowBytes]
					require.Equal(t, math.Float32bits(f.Dot(row, act, k)), math.Float32bits(out[i*wt.t.Rows+j]), "%v %s (%d, %d)", typ, what, i, j)
				}
			}
		}
		x, xs := randomF32(t, b, rng, 20, k)
		xv := tensorView{t: x, xs: xs}
		check("whole", tensorView{t: w, std: std}, xv)

		// GetRows dequantizes the standard rows.
		ids := newTensor(t, b, gguf.TypeI32, 1, 3)
		copy(i32s(ids), []int32{0, 17, 49})
		rows := poisoned(t, b, 3, k)
		b.GetRows(rows, w, ids)
		want := make([]float32, k)
		for i, id := range []int32{0, 17, 49} {
			f.Dequantize(want, std[int(id)*rowBytes:(int(id)+1)*rowBytes])
			require.Equal(t, want, f32s(rows)[i*k:(i+1)*k], "%v GetRows row %d", typ, id)
		}

		// A slice that does not start on a group of 16, then the whole again.
		check("slice", tensorView{t: w.Slice(5, 40), std: std[5*rowBytes : 40*rowBytes]}, xv)
		check("whole again", tensorView{t: w, std: std}, xv)

		// Writing new weights drops the packing.
		for i := range wf {
			wf[i] = float32(rng.NormFloat64())
		}
		kernels.QuantizeRow(typ, std, wf)
		require.NoError(t, b.Write(w, std))
		check("rewritten", tensorView{t: w, std: std}, xv)
	}
}

// tensorView is a tensor with its contents as the test wrote them: std for
// weights, xs for activations.
type tensorView struct {
	t   backend.Tensor
	std []byte
	xs  []float32
}
