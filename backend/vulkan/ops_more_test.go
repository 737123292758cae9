package vulkan

import (
	"fmt"
	"math"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Shapes for the row-wise and elementwise ops: one value, one row, odd
// column counts (not a multiple of the workgroup size), a row longer than a
// workgroup.
var moreShapes = [][2]int{{1, 1}, {1, 7}, {7, 333}, {3, 2049}}

// values makes an F32 tensor holding xs as 1 x len(xs).
func (e *env) values(xs ...float32) pair {
	p := e.alloc(gguf.TypeF32, 1, len(xs))
	e.write(p, f32bytes(xs))
	return p
}

// extremes are inputs where a naive tanh loses accuracy or overflows: zero,
// tiny, around the polynomial/exp switch, large and huge, both signs.
var extremes = []float32{0, 1e-30, -1e-7, 3e-4, 0.1249, -0.125, 0.1251, 0.5, -1, 2.5, -4, 9, -12,
	20, -44, 90, 1e4, -1e4, 3e38, -3e38}

// LayerNorm: the GPU sums the row and the squared deviations by trees in
// F32, the CPU sequentially in F64; a few ulps of the mean and scale: 1e-6.
func TestLayerNorm(t *testing.T) {
	e := newEnv(t, Options{})
	for _, sh := range moreShapes {
		x := e.f32(sh[0], sh[1], 2)
		// A large common offset makes the centring matter.
		e.vk.AddRow(x.g, x.g, e.values(fill(sh[1], 5)...).g)
		e.cpu.AddRow(x.c, x.c, e.values(fill(sh[1], 5)...).c)
		w, b := e.f32(1, sh[1], 1), e.f32(1, sh[1], 1)
		dst := e.alloc(gguf.TypeF32, sh[0], sh[1])
		e.poison(dst)
		e.vk.LayerNorm(dst.g, x.g, w.g, b.g, 1e-5)
		e.cpu.LayerNorm(dst.c, x.c, w.c, b.c, 1e-5)
		e.check(fmt.Sprintf("LayerNorm %dx%d", sh[0], sh[1]), dst, 1e-6)

		// In place.
		e.vk.LayerNorm(x.g, x.g, w.g, b.g, 1e-6)
		e.cpu.LayerNorm(x.c, x.c, w.c, b.c, 1e-6)
		e.check(fmt.Sprintf("LayerNorm in place %dx%d", sh[0], sh[1]), x, 1e-6)
	}
}

func fill(n int, v float32) []float32 {
	xs := make([]float32, n)
	for i := range xs {
		xs[i] = v
	}
	return xs
}

// AddRow and Scale are one float32 operation per value, as on the CPU:
// bit-identical (tolerance 0), in place too.
func TestAddRowScale(t *testing.T) {
	e := newEnv(t, Options{})
	for _, sh := range moreShapes {
		x, row := e.f32(sh[0], sh[1], 3), e.f32(1, sh[1], 3)
		dst := e.alloc(gguf.TypeF32, sh[0], sh[1])
		what := fmt.Sprintf("%dx%d", sh[0], sh[1])
		e.poison(dst)
		e.vk.AddRow(dst.g, x.g, row.g)
		e.cpu.AddRow(dst.c, x.c, row.c)
		e.check("AddRow "+what, dst, 0)
		e.poison(dst)
		e.vk.Scale(dst.g, x.g, -0.37)
		e.cpu.Scale(dst.c, x.c, -0.37)
		e.check("Scale "+what, dst, 0)

		e.vk.AddRow(x.g, x.g, row.g)
		e.cpu.AddRow(x.c, x.c, row.c)
		e.check("AddRow in place "+what, x, 0)
		e.vk.Scale(x.g, x.g, 1/math.Sqrt2)
		e.cpu.Scale(x.c, x.c, 1/math.Sqrt2)
		e.check("Scale in place "+what, x, 0)
	}
}

// tanhTol bounds GELU, GeGLU and SoftCap: the GPU's tanh (common.glsl
// tanhR, from exp or a polynomial) is within a few ulps of Go's float64
// math.Tanh rounded to float32, and the divisions by the cap are within
// 2.5 ulps: 1e-6.
const tanhTol = 1e-6

func TestGELUGeGLUSoftCap(t *testing.T) {
	e := newEnv(t, Options{})
	for _, sh := range moreShapes {
		x, up := e.f32(sh[0], sh[1], 3), e.f32(sh[0], sh[1], 1)
		dst := e.alloc(gguf.TypeF32, sh[0], sh[1])
		what := fmt.Sprintf("%dx%d", sh[0], sh[1])
		e.poison(dst)
		e.vk.GELU(dst.g, x.g)
		e.cpu.GELU(dst.c, x.c)
		e.check("GELU "+what, dst, geluTol)
		e.poison(dst)
		e.vk.GeGLU(dst.g, x.g, up.g)
		e.cpu.GeGLU(dst.c, x.c, up.c)
		e.check("GeGLU "+what, dst, geluTol)
		for _, c := range []float32{30, 1.5} {
			e.poison(dst)
			e.vk.SoftCap(dst.g, x.g, c)
			e.cpu.SoftCap(dst.c, x.c, c)
			e.check(fmt.Sprintf("SoftCap %v %s", c, what), dst, tanhTol)
		}

		// In place: GeGLU(gate, gate, up), SoftCap(x, x, c), GELU(x, x).
		e.vk.GeGLU(x.g, x.g, up.g)
		e.cpu.GeGLU(x.c, x.c, up.c)
		e.check("GeGLU in place "+what, x, geluTol)
		e.vk.SoftCap(x.g, x.g, 0.5)
		e.cpu.SoftCap(x.c, x.c, 0.5)
		e.check("SoftCap in place "+what, x, geluTol)
		e.vk.GELU(x.g, x.g)
		e.cpu.GELU(x.c, x.c)
		e.check("GELU in place "+what, x, geluTol)
	}
}

// TestTanhExtremes: values where GLSL's tanh may be inaccurate or overflow
// (huge |x|, where exp(2x) is Inf) and where 1-exp(-2|x|) cancels (tiny
// |x|): each value within 2e-6 of the CPU's, relative, no NaN.
func TestTanhExtremes(t *testing.T) {
	e := newEnv(t, Options{})
	x := e.values(extremes...)
	dst := e.alloc(gguf.TypeF32, 1, len(extremes))
	ops := []struct {
		name string
		run  func(b backend.Backend, d, x backend.Tensor)
	}{
		{"GELU", func(b backend.Backend, d, x backend.Tensor) { b.GELU(d, x) }},
		{"SoftCap 1", func(b backend.Backend, d, x backend.Tensor) { b.SoftCap(d, x, 1) }},
		{"SoftCap 50", func(b backend.Backend, d, x backend.Tensor) { b.SoftCap(d, x, 50) }},
	}
	for _, op := range ops {
		e.poison(dst)
		op.run(e.vk, dst.g, x.g)
		op.run(e.cpu, dst.c, x.c)
		gb, cb := e.read(dst)
		got, want := floats(gb), floats(cb)
		for i := range want {
			d := math.Abs(float64(got[i]) - float64(want[i]))
			if math.IsNaN(float64(got[i])) || d > 2e-6*math.Abs(float64(want[i])) && d > 1e-37 {
				t.Errorf("%s(%g) = %g, want %g", op.name, extremes[i], got[i], want[i])
			}
		}
	}
}

// TestRMSNormPerHead: per-head q/k norm, an n x heads*hd tensor viewed as
// n*heads x hd and normed in place, as the model does; tolerance as RMSNorm.
func TestRMSNormPerHead(t *testing.T) {
	e := newEnv(t, Options{})
	for _, sh := range [][3]int{{1, 3, 8}, {7, 5, 36}, {2, 4, 256}} {
		n, heads, hd := sh[0], sh[1], sh[2]
		x := e.f32(n, heads*hd, 2)
		w := e.f32(1, hd, 1)
		xg, xc := x.g.Reshape(n*heads, hd), x.c.Reshape(n*heads, hd)
		e.vk.RMSNorm(xg, xg, w.g, 1e-6)
		e.cpu.RMSNorm(xc, xc, w.c, 1e-6)
		e.check(fmt.Sprintf("RMSNorm per head %dx%dx%d", n, heads, hd), x, 1e-6)
	}
}

// TestFusedViews: q/k/v weights as row slices of one fused weight (so a
// slice starts at any byte a row of its type can: 2-byte steps for F16 with
// odd k, 18- or 34-byte blocks for Q4_0/Q8_0), biases as column slices of
// one fused bias row (4-byte steps): MatMul within matmulTol, AddRow and
// LayerNorm as above.
func TestFusedViews(t *testing.T) {
	e := newEnv(t, Options{})
	for _, typ := range allWeightTypes {
		k := 96 // 3 blocks: Q4_0, Q5_0, Q8_0 rows of 54, 66, 102 bytes
		if typ.BlockSize() == 1 {
			k = 97 // F16/BF16 rows of 194 bytes
		}
		parts := []int{0, 13, 13 + 5, 13 + 5 + 5} // q, k, v rows
		fused := e.weight(typ, parts[3], k)
		bias := e.f32(1, parts[3], 1)
		n := 7
		x := e.f32(n, k, 1)
		unaligned := false
		for i := 0; i < 3; i++ {
			lo, hi := parts[i], parts[i+1]
			w := pair{fused.g.Slice(lo, hi), fused.c.Slice(lo, hi)}
			b := pair{bias.g.Columns(lo, hi), bias.c.Columns(lo, hi)}
			unaligned = unaligned || w.g.Offset%4 != 0
			what := fmt.Sprintf("%v rows [%d,%d) at byte %d", typ, lo, hi, w.g.Offset)
			dst := e.alloc(gguf.TypeF32, n, hi-lo)
			e.poison(dst)
			e.vk.MatMul(dst.g, w.g, x.g)
			e.cpu.MatMul(dst.c, w.c, x.c)
			e.check("sliced MatMul "+what, dst, matmulTol)
			e.vk.AddRow(dst.g, dst.g, b.g)
			e.cpu.AddRow(dst.c, dst.c, b.c)
			e.check("sliced bias AddRow "+what, dst, matmulTol)
			if typ == gguf.TypeF32 {
				out := e.alloc(gguf.TypeF32, n, hi-lo)
				e.poison(out)
				e.vk.LayerNorm(out.g, dst.g, b.g, b.g, 1e-5)
				e.cpu.LayerNorm(out.c, dst.c, b.c, b.c, 1e-5)
				e.check("sliced LayerNorm "+what, out, 1e-6)
			}
		}
		if want := typ != gguf.TypeF32 && typ != gguf.TypeQ4_1 && typ != gguf.TypeQ5_1; unaligned != want {
			t.Errorf("%v: a slice at a byte offset not a multiple of 4: %v, want %v", typ, unaligned, want)
		}
	}
}

// Attend with a sliding window (smaller than, equal to and larger than the
// positions seen, and one too large for 32 bits) and soft-capped scores, F32
// and F16 caches: tolerance 1e-5 as TestAttend; the cap's tanh adds a few
// ulps per score (measured ~1e-7 on lavapipe).
func TestAttendWindowSoftCap(t *testing.T) {
	e := newEnv(t, Options{})
	pos := []int32{0, 1, 63, 64, 149, 5, 100}
	seq := []int32{0, 1, 0, 1, 1, 0, 1}
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16} {
		p := backend.Attention{Heads: 4, KVHeads: 2, HeadDim: 36, Context: 150}
		p.Scale = float32(1 / math.Sqrt(float64(p.HeadDim)))
		k := e.weight(typ, 2*p.Context, p.KVHeads*p.HeadDim)
		v := e.weight(typ, 2*p.Context, p.KVHeads*p.HeadDim)
		pv, sv := e.i32(pos), e.i32(seq)
		q := e.f32(len(pos), p.Heads*p.HeadDim, 4) // large scores, so a cap bites
		dst := e.alloc(gguf.TypeF32, len(pos), p.Heads*p.HeadDim)
		for _, win := range []int{0, 1, 2, 6, 64, 65, 101, 150, 1000, math.MaxInt} {
			for _, cap := range []float32{0, 50, 1.5} {
				p.Window, p.SoftCap = win, cap
				e.poison(dst)
				e.vk.Attend(dst.g, q.g, k.g, v.g, pv.g, sv.g, p)
				e.cpu.Attend(dst.c, q.c, k.c, v.c, pv.c, sv.c, p)
				e.check(fmt.Sprintf("Attend %v window %d softcap %v", typ, win, cap), dst, attendTol(typ))
			}
		}
	}
}

// geluTol: gelu's output is rounded to F16 (as ggml's table is), so a tanh a
// float ulp off the CPU's can move a few outputs by one F16 ulp (2^-11).
const geluTol = 1e-4
