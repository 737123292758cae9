package kernels

import (
	"math"
	"sync"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// rmseWeights is a realistic weight matrix: 4096×4096 normal values with
// standard deviation 0.02, and one value in 2000 an outlier 10 to 30 times
// larger. Built once.
var rmseWeights = sync.OnceValue(func() []float32 {
	rng := newRand(42)
	x := make([]float32, 4096*4096)
	for i := range x {
		x[i] = float32(0.02 * rng.NormFloat64())
		if rng.IntN(2000) == 0 {
			x[i] *= float32(10 + 20*rng.Float64())
		}
	}
	return x
})

// BenchmarkRMSE quantizes the matrix to each type and reports the RMSE of
// the round trip against the F32 weights (rmse), relative to the weights' RMS
// (rel_rmse), and the largest error (max_err):
//
//	go test ./kernels/ -run '^$' -bench RMSE -benchtime 1x
func BenchmarkRMSE(b *testing.B) {
	x := rmseWeights()
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	rms := math.Sqrt(ss / float64(len(x)))
	for _, typ := range []gguf.Type{gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeQ6_K, gguf.TypeQ5_1, gguf.TypeQ5_0, gguf.TypeQ5_K, gguf.TypeQ4_1, gguf.TypeQ4_0, gguf.TypeQ4_K, gguf.TypeIQ4_NL, gguf.TypeIQ4_XS, gguf.TypeQ3_K, gguf.TypeQ2_K} {
		b.Run(typ.String(), func(b *testing.B) {
			q := make([]byte, typ.RowBytes(len(x)))
			y := make([]float32, len(x))
			f := mustFormat(b, typ)
			for b.Loop() {
				const rows = 4096
				var wg sync.WaitGroup
				for part := 0; part < 8; part++ {
					wg.Add(1)
					go func(lo, hi int) {
						defer wg.Done()
						rb := typ.RowBytes(4096)
						f.Quantize(q[lo*rb:hi*rb], x[lo*4096:hi*4096])
						f.Dequantize(y[lo*4096:hi*4096], q[lo*rb:hi*rb])
					}(part*rows/8, (part+1)*rows/8)
				}
				wg.Wait()
			}
			var se, worst float64
			for i := range x {
				e := float64(x[i] - y[i])
				se += e * e
				worst = math.Max(worst, math.Abs(e))
			}
			rmse := math.Sqrt(se / float64(len(x)))
			b.ReportMetric(rmse, "rmse")
			b.ReportMetric(rmse/rms, "rel_rmse")
			b.ReportMetric(worst, "max_err")
			b.ReportMetric(float64(len(q))*8/float64(len(x)), "bits/weight")
		})
	}
}
