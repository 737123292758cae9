package vulkan

import (
	"bytes"
	"math"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// f16Cache makes an F16 cache of random values of about scale, some rows
// all zero and some of -0, so that signed zeros reach the accumulator.
func (e *env) f16Cache(rows, cols int, scale float32) pair {
	p := e.alloc(gguf.TypeF16, rows, cols)
	xs := e.randn(rows*cols, scale)
	for c := 0; c < cols; c++ {
		xs[3*cols+c] = 0
		xs[5*cols+c] = float32(math.Copysign(0, -1))
	}
	raw := make([]byte, 2*rows*cols)
	kernels.QuantizeRow(gguf.TypeF16, raw, xs)
	e.write(p, raw)
	return p
}

// With an F16 cache the shader computes the CPU's flash attention bit for
// bit (tolerance 0): head dims below, at and past 64 and not multiples of
// it, grouped heads, keys past one workgroup's 64, sliding windows, soft
// caps, and scores spread wide enough (q of scale 30) that weights fall
// below 2^-60 and maxima change often.
func TestAttendF16BitIdentical(t *testing.T) {
	e := newEnv(t, Options{})
	pos := []int32{0, 1, 63, 64, 149, 5, 100, 65}
	seq := []int32{0, 1, 0, 1, 1, 0, 1, 0}
	for _, c := range []struct {
		heads, kvHeads, hd int
		qScale             float32
	}{{8, 4, 8, 1}, {6, 2, 36, 4}, {4, 4, 64, 1}, {4, 2, 64, 30}, {2, 1, 80, 4}, {4, 1, 128, 2}, {2, 2, 256, 1}} {
		p := backend.Attention{Heads: c.heads, KVHeads: c.kvHeads, HeadDim: c.hd, Context: 150}
		p.Scale = float32(1 / math.Sqrt(float64(c.hd)))
		k := e.f16Cache(2*p.Context, c.kvHeads*c.hd, 1)
		v := e.f16Cache(2*p.Context, c.kvHeads*c.hd, 1)
		pv, sv := e.i32(pos), e.i32(seq)
		q := e.f32(len(pos), c.heads*c.hd, c.qScale)
		dst := e.alloc(gguf.TypeF32, len(pos), c.heads*c.hd)
		for _, win := range []int{0, 2, 64, 100} {
			for _, softCap := range []float32{0, 1.5, 50} {
				p.Window, p.SoftCap = win, softCap
				e.poison(dst)
				e.vk.Attend(dst.g, q.g, k.g, v.g, pv.g, sv.g, p)
				e.cpu.Attend(dst.c, q.c, k.c, v.c, pv.c, sv.c, p)
				gpu, ref := e.read(dst)
				if !bytes.Equal(gpu, ref) {
					g, r := floats(gpu), floats(ref)
					i := 0
					for i < len(g) && math.Float32bits(g[i]) == math.Float32bits(r[i]) {
						i++
					}
					t.Errorf("%+v window %d cap %v: first difference at %d of %d: %v (%#x), CPU %v (%#x)",
						c, win, softCap, i, len(g), g[i], math.Float32bits(g[i]), r[i], math.Float32bits(r[i]))
				}
			}
		}
	}
}
