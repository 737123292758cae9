package cpu

import (
	"math"

	"github.com/conveyor-llm/conveyor/kernels"

	"github.com/conveyor-llm/conveyor/backend"
)

// LayerNorm computes dst = (x - mean) / sqrt(var + eps) * w + b per row, with the
// mean and variance accumulated in float64 as ggml does.
func (b *Backend) LayerNorm(dst, x, w, bias backend.Tensor, eps float32) {
	mustShape("LayerNorm", dst, x.Rows, x.Cols)
	mustShape("LayerNorm weight", w, 1, x.Cols)
	mustShape("LayerNorm bias", bias, 1, x.Cols)
	t := &b.tasks.layerNorm
	*t = layerNormTask{in: f32s(x), out: f32s(dst), weight: f32s(w), shift: f32s(bias), n: x.Cols, eps: eps}
	b.pool.parallelRange(x.Rows, 4, t)
	*t = layerNormTask{}
}

type layerNormTask struct {
	in, out, weight, shift []float32
	n                      int
	eps                    float32
}

func (t *layerNormTask) run(_, lo, hi int) {
	n, weight, shift := t.n, t.weight, t.shift
	for r := lo; r < hi; r++ {
		row, o := t.in[r*n:(r+1)*n], t.out[r*n:(r+1)*n]
		var sum float64
		for _, v := range row {
			sum += float64(v)
		}
		mean := float32(sum / float64(n))
		var sq float64
		for i, v := range row {
			c := v - mean
			o[i] = c
			sq += float64(c * c)
		}
		scale := 1 / float32(math.Sqrt(float64(float32(sq/float64(n))+t.eps)))
		for i := range o {
			o[i] = o[i]*scale*weight[i] + shift[i]
		}
	}
}

// AddRow adds the one-row tensor row to every row of x.
func (b *Backend) AddRow(dst, x, row backend.Tensor) {
	mustShape("AddRow", dst, x.Rows, x.Cols)
	mustShape("AddRow row", row, 1, x.Cols)
	in, out, add := f32s(x), f32s(dst), f32s(row)
	for r := 0; r < x.Rows; r++ {
		for i, v := range add {
			out[r*x.Cols+i] = in[r*x.Cols+i] + v
		}
	}
}

// Scale multiplies x by s.
func (b *Backend) Scale(dst, x backend.Tensor, s float32) {
	mustShape("Scale", dst, x.Rows, x.Cols)
	in, out := f32s(x), f32s(dst)
	for i, v := range in {
		out[i] = v * s
	}
}

// GELU applies gelu in its tanh form.
func (b *Backend) GELU(dst, x backend.Tensor) {
	mustShape("GELU", dst, x.Rows, x.Cols)
	t := &b.tasks.gated
	*t = gatedTask{out: f32s(dst), gate: f32s(x), act: geluTanh}
	b.pool.parallelRange(len(t.out), 4096, t)
	*t = gatedTask{}
}

// GeGLU computes gelu(gate) * up.
func (b *Backend) GeGLU(dst, gate, up backend.Tensor) {
	mustShape("GeGLU", gate, dst.Rows, dst.Cols)
	mustShape("GeGLU", up, dst.Rows, dst.Cols)
	b.gatedUnit(dst, gate, up, geluTanh)
}

// geluTanh is 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³))), computed as
// ggml's CPU build does, through a table over half-precision inputs: 0 below
// -10, x above 10, and in between the F16 value of gelu at the F16-rounded x.
func geluTanh(x float32) float32 {
	switch {
	case x <= -10:
		return 0
	case x >= 10:
		return x
	}
	h := kernels.F16ToF32(kernels.F32ToF16(x))
	return kernels.F16ToF32(kernels.F32ToF16(geluExact(h)))
}

func geluExact(x float32) float32 {
	const sqrt2OverPi = 0.79788456080286535587989211986876
	return 0.5 * x * (1 + float32(math.Tanh(float64(sqrt2OverPi*x*(1+0.044715*x*x)))))
}

// SoftCap computes c * tanh(x / c).
func (b *Backend) SoftCap(dst, x backend.Tensor, c float32) {
	mustShape("SoftCap", dst, x.Rows, x.Cols)
	in, out := f32s(x), f32s(dst)
	for i, v := range in {
		out[i] = c * float32(math.Tanh(float64(v/c)))
	}
}
