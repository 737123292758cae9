package cpu

import (
	"encoding/binary"
	"math"
	"sync"

	"github.com/conveyor-llm/conveyor/gguf"
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

// GELU applies gelu in its tanh form (geluTanh).
func (b *Backend) GELU(dst, x backend.Tensor) {
	mustShape("GELU", dst, x.Rows, x.Cols)
	t := &b.tasks.gelu
	*t = geluTask{out: f32s(dst), in: f32s(x), table: geluTable(), half: mustFormat(gguf.TypeF16)}
	b.pool.parallelRange(len(t.out), 4096, t)
	*t = geluTask{}
}

// geluTask is geluTanh over a range of values, geluChunk at a time: the
// chunk is rounded to F16 by the F16 format's vector code, then each value
// looked up in the table.
type geluTask struct {
	out, in []float32
	table   *[1 << 16]float32
	half    *kernels.Format
}

const geluChunk = 256

func (t *geluTask) run(_, lo, hi int) {
	var halves [2 * geluChunk]byte
	for c := lo; c < hi; c += geluChunk {
		in := t.in[c:min(c+geluChunk, hi)]
		out := t.out[c : c+len(in)]
		t.half.Quantize(halves[:2*len(in)], in)
		for i, x := range in {
			switch {
			case x <= -10:
				out[i] = 0
			case x >= 10:
				out[i] = x
			default:
				out[i] = t.table[binary.LittleEndian.Uint16(halves[2*i:])]
			}
		}
	}
}

// GeGLU computes gelu(gate) * up.
func (b *Backend) GeGLU(dst, gate, up backend.Tensor) {
	mustShape("GeGLU", gate, dst.Rows, dst.Cols)
	mustShape("GeGLU", up, dst.Rows, dst.Cols)
	b.gatedUnit(dst, gate, up, geluTanh)
}

// geluTanh is 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³))), computed as
// ggml's CPU build does, through a table over half-precision inputs: 0 below
// -10, x above 10, and in between the F16 value of gelu at the F16-rounded x
// (geluHalf).
func geluTanh(x float32) float32 {
	switch {
	case x <= -10:
		return 0
	case x >= 10:
		return x
	}
	return geluTable()[kernels.F32ToF16(x)]
}

// geluHalf is gelu at the F16 value h, rounded to F16: an entry of the table.
func geluHalf(h uint16) float32 {
	return kernels.F16ToF32(kernels.F32ToF16(geluExact(kernels.F16ToF32(h))))
}

// geluTable is geluHalf of every F16 value, built on first use.
var geluTable = sync.OnceValue(func() *[1 << 16]float32 {
	t := new([1 << 16]float32)
	for h := range t {
		t[h] = geluHalf(uint16(h))
	}
	return t
})

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
