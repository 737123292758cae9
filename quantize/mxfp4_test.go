package quantize_test

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/internal/testdata"
	"github.com/conveyor-llm/conveyor/kernels"
	"github.com/conveyor-llm/conveyor/quantize"
)

// MXFP4_MOE (also spelled MXFP4) gives a MoE model's expert stacks MXFP4
// and its other matrices Q8_0, as llama-quantize (the output matrix Q6_K,
// falling back to Q8_0 where its rows do not divide into 256). Every MXFP4
// value read back through the dequantizer is the nearest level of its
// block, which bounds the error by the block's maximum amax and scale d =
// 2^(e−127): |x̂ − x| ≤ max(d, amax − 6d) (half the widest gap between the
// levels 4d and 6d, or the clipping of a maximum above 6d, below 8d), so at
// most amax/3; over each whole stack of random normal weights the relative
// RMS error ‖x̂ − x‖/‖x‖ is 0.115-0.117 on this model's nine stacks
// (bounded at 0.125).
func TestMXFP4MoERoundTrip(t *testing.T) {
	for _, name := range []string{"MXFP4_MOE", "mxfp4"} {
		ft, err := quantize.ParseFileType(name)
		require.NoError(t, err)
		require.Equal(t, quantize.FileTypeMXFP4_MOE, ft)
	}
	in := testdata.Path(t, "arch/qwen3moe.gguf")
	out := filepath.Join(t.TempDir(), "mxfp4.gguf")
	require.NoError(t, quantize.File(in, out, quantize.Options{FileType: quantize.FileTypeMXFP4_MOE}))
	src, err := gguf.Open(in)
	require.NoError(t, err)
	defer src.Close()
	got, err := gguf.Open(out)
	require.NoError(t, err)
	defer got.Close()

	stacks := 0
	for i, st := range src.Tensors {
		gt := got.Tensors[i]
		require.Equal(t, st.Name, gt.Name)
		switch {
		case strings.Contains(st.Name, "_exps.weight"):
			require.Equal(t, gguf.TypeMXFP4, gt.Type, st.Name)
		case st.Name == "output.weight":
			require.Equal(t, gguf.TypeQ8_0, gt.Type, st.Name) // Q6_K's fallback: 128-wide rows
		case st.Name == "token_embd.weight" || strings.HasSuffix(st.Name, "_q.weight") || strings.HasSuffix(st.Name, "_k.weight") ||
			strings.HasSuffix(st.Name, "_v.weight") || strings.HasSuffix(st.Name, "_output.weight"):
			require.Equal(t, gguf.TypeQ8_0, gt.Type, st.Name)
		default:
			require.Equal(t, st.Type, gt.Type, st.Name) // norms and the router stay F32
		}
		if gt.Type != gguf.TypeMXFP4 {
			continue
		}
		stacks++
		require.Equal(t, gguf.TypeF32, st.Type)
		n := int(st.Elements())
		x := make([]float32, n)
		kernels.DequantizeRow(gguf.TypeF32, x, src.TensorData(st))
		q := got.TensorData(gt)
		back := make([]float32, n)
		kernels.DequantizeRow(gguf.TypeMXFP4, back, q)
		var num, den float64
		for b := 0; b < n/32; b++ {
			d := math.Ldexp(1, int(q[b*17])-127)
			var amax float64
			for _, v := range x[b*32 : (b+1)*32] {
				amax = math.Max(amax, math.Abs(float64(v)))
			}
			bound := math.Max(d, amax-6*d)
			for j := b * 32; j < (b+1)*32; j++ {
				e := math.Abs(float64(back[j] - x[j]))
				require.LessOrEqual(t, e, bound*(1+1e-6), "%s value %d: %v read back as %v (block max %v, scale %v)", st.Name, j, x[j], back[j], amax, d)
				num += e * e
				den += float64(x[j]) * float64(x[j])
			}
		}
		rel := math.Sqrt(num / den)
		require.LessOrEqual(t, rel, 0.125, st.Name)
		if stacks == 1 {
			t.Logf("%s: relative RMS error %.4f", st.Name, rel)
		}
	}
	require.Equal(t, 9, stacks, "3 layers of gate, up and down stacks")
}
