package cpu

import (
	"fmt"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/kernels"
)

// MatMul computes dst = x · wᵀ. Each row of x is first converted to the weight
// format's dot type (quantized to Q8_0 for Q8_0 and Q4_0 weights, as llama.cpp
// does), then every output is one Format.Dot over a whole row, so its reduction
// order depends only on k, never on n or on how the work is split.
func (b *Backend) MatMul(dst, w, x backend.Tensor) {
	if x.Cols != w.Cols || dst.Rows != x.Rows || dst.Cols != w.Rows {
		panic(fmt.Sprintf("cpu: MatMul: dst %v, w %v, x %v", dst, w, x))
	}
	format := mustFormat(w.Type)
	n, m, k := x.Rows, w.Rows, w.Cols

	xs := f32s(x)
	aRowBytes := format.DotType.RowBytes(k)
	if need := n * aRowBytes; cap(b.scratch) < need {
		b.scratch = make([]byte, need)
	}
	act := b.scratch[:n*aRowBytes]
	b.pool.parallelFor(n, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			kernels.QuantizeActivations(format.DotType, act[i*aRowBytes:(i+1)*aRowBytes], xs[i*k:(i+1)*k])
		}
	})

	weights := raw(w)
	wRowBytes := int(w.RowBytes())
	out := f32s(dst)
	// Split by weight rows so each thread streams its own part of w once,
	// computing that part for every row of x.
	b.pool.parallelFor(m, 16, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			wRow := weights[j*wRowBytes : (j+1)*wRowBytes]
			for i := 0; i < n; i++ {
				out[i*m+j] = format.Dot(wRow, act[i*aRowBytes:(i+1)*aRowBytes], k)
			}
		}
	})
}
