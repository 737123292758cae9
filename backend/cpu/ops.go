package cpu

import (
	"fmt"
	"math"
	"slices"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// GetRows copies rows ids[i] of table into dst row i as F32.
func (b *Backend) GetRows(dst, table, ids backend.Tensor) {
	idx := i32s(ids)
	mustShape("GetRows", dst, len(idx), table.Cols)
	out := f32s(dst)
	format := mustFormat(table.Type)
	m, err := hostBuffer(table)
	if err != nil {
		panic(err)
	}
	scratch := &b.work[len(b.work)-1].row
	if need := int(table.RowBytes()); cap(*scratch) < need {
		*scratch = make([]byte, need)
	}
	for i, id := range idx {
		if id < 0 || int(id) >= table.Rows {
			panic(fmt.Sprintf("cpu: GetRows: id %d outside table %v", id, table))
		}
		format.Dequantize(out[i*table.Cols:(i+1)*table.Cols], standardRow(m, table, int(id), *scratch))
	}
}

// RMSNorm computes dst = x / sqrt(mean(x²) + eps) * w, row by row. As ggml does,
// the sum of squares is accumulated in float64 and the scale applied in float32.
func (b *Backend) RMSNorm(dst, x, w backend.Tensor, eps float32) {
	mustShape("RMSNorm", dst, x.Rows, x.Cols)
	mustShape("RMSNorm weight", w, 1, x.Cols)
	t := &b.tasks.rmsNorm
	*t = rmsNormTask{in: f32s(x), out: f32s(dst), weight: f32s(w), n: x.Cols, eps: eps}
	b.pool.parallelRange(x.Rows, 4, t)
	*t = rmsNormTask{}
}

type rmsNormTask struct {
	in, out, weight []float32
	n               int
	eps             float32
}

func (t *rmsNormTask) run(_, lo, hi int) {
	n, weight := t.n, t.weight
	for r := lo; r < hi; r++ {
		row, o := t.in[r*n:(r+1)*n], t.out[r*n:(r+1)*n]
		var sum float64
		for _, v := range row {
			sum += float64(v * v)
		}
		mean := float32(sum / float64(n))
		scale := 1 / float32(math.Sqrt(float64(mean+t.eps)))
		for i, v := range row {
			o[i] = (v * scale) * weight[i]
		}
	}
}

// Add computes dst = a + b.
func (b *Backend) Add(dst, x, y backend.Tensor) {
	mustShape("Add", x, dst.Rows, dst.Cols)
	mustShape("Add", y, dst.Rows, dst.Cols)
	out, xs, ys := f32s(dst), f32s(x), f32s(y)
	for i := range out {
		out[i] = xs[i] + ys[i]
	}
}

// SwiGLU computes dst = silu(gate) * up, with silu(g) = g / (1 + e^-g), row
// by row as llama.cpp's x86 build does (kernels.SwiGLU).
func (b *Backend) SwiGLU(dst, gate, up backend.Tensor) {
	mustShape("SwiGLU", gate, dst.Rows, dst.Cols)
	mustShape("SwiGLU", up, dst.Rows, dst.Cols)
	t := &b.tasks.swiGLU
	*t = swiGLUTask{out: f32s(dst), gate: f32s(gate), up: f32s(up), cols: dst.Cols}
	b.pool.parallelRange(dst.Rows, max(1, 4096/max(dst.Cols, 1)), t)
	*t = swiGLUTask{}
}

type swiGLUTask struct {
	out, gate, up []float32
	cols          int
}

func (t *swiGLUTask) run(_, lo, hi int) {
	for r := lo; r < hi; r++ {
		row := t.out[r*t.cols : (r+1)*t.cols]
		kernels.SwiGLU(row, t.gate[r*t.cols:], t.up[r*t.cols:])
	}
}

// gatedUnit computes dst = act(gate) * up, elementwise.
func (b *Backend) gatedUnit(dst, gate, up backend.Tensor, act func(float32) float32) {
	t := &b.tasks.gated
	*t = gatedTask{out: f32s(dst), gate: f32s(gate), up: f32s(up), act: act}
	b.pool.parallelRange(len(t.out), 4096, t)
	*t = gatedTask{}
}

// gatedTask is act(gate) * up; a nil up is act(gate) alone.
type gatedTask struct {
	out, gate, up []float32
	act           func(float32) float32
}

func (t *gatedTask) run(_, lo, hi int) {
	out, g := t.out[lo:hi], t.gate[lo:hi]
	if t.up == nil {
		for i, v := range g {
			out[i] = t.act(v)
		}
		return
	}
	u := t.up[lo:hi]
	for i, v := range g {
		out[i] = t.act(v) * u[i]
	}
}

// RoPE rotates each head of each row of x by its row's position. The angles are
// built as ggml builds them, in float32: theta starts at pos*FreqScale and is
// multiplied by FreqBase^(-2/Dims) for each successive pair. They are computed
// once per row for all its heads, and kept for the next call: a model rotates
// its queries and keys at the same positions in every layer, so only the first
// of those calls computes them.
func (b *Backend) RoPE(x, pos backend.Tensor, p backend.RoPE) {
	positions := i32s(pos)
	if x.Rows != len(positions) || p.HeadDim <= 0 || x.Cols%p.HeadDim != 0 || p.Dims > p.HeadDim || p.Dims%2 != 0 {
		panic(fmt.Sprintf("cpu: RoPE: x %v, %d positions, head dim %d, rotated dims %d", x, len(positions), p.HeadDim, p.Dims))
	}
	t := &b.tasks.rope
	fill := !t.angles.holds(positions, p)
	if fill {
		t.angles.reset(positions, p)
	}
	t.data, t.positions, t.cols, t.p, t.fill = f32s(x), positions, x.Cols, p, fill
	b.pool.parallelRange(x.Rows, 1, t)
	t.angles.valid = true
	t.data, t.positions, t.p = nil, nil, backend.RoPE{}
}

type ropeTask struct {
	data      []float32
	positions []int32
	cols      int
	p         backend.RoPE
	// fill says this call computes the angles of its rows into angles; else
	// angles holds them from an earlier call with the same positions.
	fill   bool
	angles ropeAngleTable
}

func (t *ropeTask) run(_, lo, hi int) {
	p := t.p
	half := p.Dims / 2
	for r := lo; r < hi; r++ {
		cos, sin := t.angles.cos[r*half:(r+1)*half], t.angles.sin[r*half:(r+1)*half]
		if t.fill {
			ropeAngles(cos, sin, t.positions[r], p)
		}
		for h := 0; h < t.cols/p.HeadDim; h++ {
			head := t.data[r*t.cols+h*p.HeadDim : r*t.cols+(h+1)*p.HeadDim]
			rotate(head, cos, sin, p.Mode)
		}
	}
}

// ropeAngleTable is the cosines and sines of a RoPE call's rows, Dims/2 a
// row, with what they were computed from. Float parameters are compared by
// their bits, so a table is reused only where recomputing it would give the
// same bits.
type ropeAngleTable struct {
	valid     bool // set once a call has filled the table completely
	key       ropeAngleKey
	factors   []float32
	positions []int32
	cos, sin  []float32
}

// ropeAngleKey is what of backend.RoPE the angles depend on, Factors aside.
type ropeAngleKey struct {
	dims                                                 int
	freqBase, freqScale, extFactor, corr0, corr1, mScale uint32
}

func angleKeyOf(p backend.RoPE) ropeAngleKey {
	f := math.Float32bits
	return ropeAngleKey{p.Dims, f(p.FreqBase), f(p.FreqScale), f(p.ExtFactor), f(p.CorrDims[0]), f(p.CorrDims[1]), f(p.MScale)}
}

// holds says whether the table has the angles of these positions under p.
func (a *ropeAngleTable) holds(positions []int32, p backend.RoPE) bool {
	return a.valid && a.key == angleKeyOf(p) && slices.Equal(a.positions, positions) &&
		slices.EqualFunc(a.factors, p.Factors, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

// reset sizes the table for positions under p, to be filled.
func (a *ropeAngleTable) reset(positions []int32, p backend.RoPE) {
	a.valid = false
	a.key = angleKeyOf(p)
	a.factors = append(a.factors[:0], p.Factors...)
	a.positions = append(a.positions[:0], positions...)
	n := len(positions) * (p.Dims / 2)
	a.cos, a.sin = grow(&a.cos, n), grow(&a.sin, n)
}

// ropeAngles fills the cosine and sine of each rotated pair's angle at position pos.
func ropeAngles(cos, sin []float32, pos int32, p backend.RoPE) {
	thetaScale := float32(math.Pow(float64(p.FreqBase), float64(float32(-2)/float32(p.Dims))))
	freqScale := p.FreqScale
	if freqScale == 0 {
		freqScale = 1
	}
	theta := float32(pos)
	for i := range cos {
		t := theta
		if len(p.Factors) > 0 {
			t /= p.Factors[i]
		}
		if p.ExtFactor != 0 {
			t = yarnTheta(t, freqScale, i, p)
			cos[i] = float32(math.Cos(float64(t))) * p.MScale
			sin[i] = float32(math.Sin(float64(t))) * p.MScale
			theta *= thetaScale
			continue
		}
		t *= freqScale
		cos[i] = float32(math.Cos(float64(t)))
		sin[i] = float32(math.Sin(float64(t)))
		theta *= thetaScale
	}
}

// yarnTheta is ggml's YaRN angle of pair i from its unscaled angle t: the
// scaled angle t·freqScale blended with t by the ramp (see backend.RoPE).
func yarnTheta(t, freqScale float32, i int, p backend.RoPE) float32 {
	y := (float32(i) - p.CorrDims[0]) / max(0.001, p.CorrDims[1]-p.CorrDims[0])
	mix := (1 - min(1, max(0, y))) * p.ExtFactor
	interp := freqScale * t
	return interp*(1-mix) + t*mix
}

// rotate applies the rotations to one head: adjacent pairs (normal) or pairs half a
// rotated span apart (NeoX). Dimensions past the rotated ones are left as they are.
// Each output is one fused multiply-add of a rounded product, as llama.cpp's
// x86 build computes x0·cos − x1·sin and x0·sin + x1·cos (its compiler fuses
// them so); the kernels do it in vector FMA instructions where the CPU has them.
func rotate(head, cos, sin []float32, mode backend.RoPEMode) {
	if mode == backend.RoPENeoX {
		kernels.RotateHalves(head, cos, sin)
		return
	}
	kernels.RotatePairs(head, cos, sin)
}

// KVWrite copies src row i into cache row rows[i], converting to the cache's type.
func (b *Backend) KVWrite(cache, src, rows backend.Tensor) {
	idx := i32s(rows)
	mustShape("KVWrite", src, len(idx), cache.Cols)
	in := f32s(src)
	format := mustFormat(cache.Type)
	dst := raw(cache)
	rowBytes := int(cache.RowBytes())
	for i, r := range idx {
		if r < 0 || int(r) >= cache.Rows {
			panic(fmt.Sprintf("cpu: KVWrite: row %d outside cache %v", r, cache))
		}
		format.Quantize(dst[int(r)*rowBytes:(int(r)+1)*rowBytes], in[i*cache.Cols:(i+1)*cache.Cols])
	}
}

func mustFormat(t gguf.Type) *kernels.Format {
	f, err := kernels.FormatOf(t)
	if err != nil {
		panic(err)
	}
	return f
}
