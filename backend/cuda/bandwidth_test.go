package cuda

import (
	"testing"

	"github.com/stretchr/testify/require"

	cu "github.com/conveyor-llm/conveyor/cgo/cuda"
	"github.com/conveyor-llm/conveyor/gguf"
)

// TestMatVecBandwidth times the decode mat-vec kernels on the TinyLlama
// shapes with CUDA events and logs the weight bandwidth each reaches against
// the device's ceiling: the numbers to start from when tuning (it asserts
// nothing about speed). It needs a CUDA device.
func TestMatVecBandwidth(t *testing.T) {
	e := newEnv(t)
	ctx, ok := e.gpu.ctx.(*cu.Context)
	if !ok {
		t.Skip("the emulated device has no timings to give")
	}
	ceiling := e.gpu.info.BandwidthGBs()
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeF16} {
		for _, s := range []struct{ m, k int }{{5632, 2048}, {2048, 5632}, {2048, 2048}, {32000, 2048}} {
			w, x, dst := e.weight(typ, s.m, s.k), e.f32(1, s.k, 1), e.out(1, s.m)
			e.gpu.MatMul(dst.g, w.g, x.g) // compile and warm up
			_, _ = e.read(dst)
			e.gpu.MatMul(dst.g, w.g, x.g)
			cmds := append([]cu.Command(nil), e.gpu.cmds...)
			e.gpu.cmds = e.gpu.cmds[:0]
			const reps = 50
			ms, err := ctx.Time(cmds, reps)
			require.NoError(t, err)
			sec := float64(ms) / 1e3 / reps
			gbs := float64(w.g.Bytes()) / sec / 1e9
			t.Logf("matvec %v %dx%d: %.1f us, %.0f GB/s of weights (%.0f%% of %.0f GB/s), %d launches",
				typ, s.m, s.k, sec*1e6, gbs, 100*gbs/ceiling, ceiling, len(cmds))
		}
	}
}
