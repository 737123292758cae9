package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// rotateReference is rotate as it was before the rotation kernels: one
// software FMA32 per output, the reference bits RoPE must keep.
func rotateReference(head, cos, sin []float32, mode backend.RoPEMode) {
	half := len(cos)
	for i := 0; i < half; i++ {
		a, c := 2*i, 2*i+1
		if mode == backend.RoPENeoX {
			a, c = i, i+half
		}
		x0, x1 := head[a], head[c]
		head[a] = kernels.FMA32(x0, cos[i], -float32(x1*sin[i]))
		head[c] = kernels.FMA32(x0, sin[i], float32(x1*cos[i]))
	}
}

// TestRoPEKeepsReferenceBits checks RoPE bit for bit against the per-element
// FMA32 loop, over both modes, full and partial rotation, odd pair counts
// (kernel tails) and several threads.
func TestRoPEKeepsReferenceBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, threads := range []int{1, 3} {
		b := New(threads)
		for _, mode := range []backend.RoPEMode{backend.RoPENormal, backend.RoPENeoX} {
			for _, p := range []backend.RoPE{
				{Mode: mode, HeadDim: 64, Dims: 64, FreqBase: 10000, FreqScale: 1},
				{Mode: mode, HeadDim: 128, Dims: 128, FreqBase: 500000, FreqScale: 1},
				{Mode: mode, HeadDim: 80, Dims: 50, FreqBase: 10000, FreqScale: 0.5}, // 25 pairs: tails
				{Mode: mode, HeadDim: 14, Dims: 14, FreqBase: 10000, FreqScale: 1},
				{Mode: mode, HeadDim: 64, Dims: 64, FreqBase: 10000, FreqScale: 0.25, ExtFactor: 1, MScale: 1.1, CorrDims: [2]float32{3, 20}},
			} {
				const rows, heads = 7, 5
				x, xs := randomF32(t, b, rng, rows, heads*p.HeadDim)
				pos := []int32{0, 1, 7, 300, 4095, 77, 12345}
				b.RoPE(x, ints(t, b, pos...), p)
				cos, sin := make([]float32, p.Dims/2), make([]float32, p.Dims/2)
				for r, ps := range pos {
					ropeAngles(cos, sin, ps, p)
					for h := 0; h < heads; h++ {
						base := r*heads*p.HeadDim + h*p.HeadDim
						rotateReference(xs[base:base+p.HeadDim], cos, sin, mode)
					}
				}
				for i, got := range f32s(x) {
					if math.Float32bits(got) != math.Float32bits(xs[i]) {
						t.Fatalf("threads %d, %+v: value %d is %g (%#x), reference %g (%#x)",
							threads, p, i, got, math.Float32bits(got), xs[i], math.Float32bits(xs[i]))
					}
				}
			}
		}
		b.Close()
	}
}

// TestRoPEAngleTableReuse makes calls in a row on one backend, some at the
// same positions and parameters as the call before (angles reused), some
// changing one position, one factor (in the same slice) or one parameter
// (angles recomputed), each checked bit for bit against the reference.
func TestRoPEAngleTableReuse(t *testing.T) {
	b := New(2)
	defer b.Close()
	rng := rand.New(rand.NewPCG(43, 44))
	factors := []float32{1, 1, 2, 2, 4, 4, 8, 8}
	base := backend.RoPE{Mode: backend.RoPENormal, HeadDim: 16, Dims: 16, FreqBase: 10000, FreqScale: 1, Factors: factors}
	yarn := base
	yarn.Factors, yarn.ExtFactor, yarn.MScale, yarn.CorrDims = nil, 1, 1, [2]float32{1, 6}
	yarnM := yarn
	yarnM.MScale = math.Nextafter32(1, 2)
	pos := []int32{5, 6, 7, 8}
	pos2 := []int32{5, 6, 9, 8}
	steps := []struct {
		pos   []int32
		p     backend.RoPE
		setup func()
	}{
		{pos, base, nil}, {pos, base, nil}, {pos2, base, nil}, {pos2, base, nil},
		{pos2, base, func() { factors[3] = 3 }},
		{pos2, yarn, nil}, {pos2, yarnM, nil}, {pos2, yarnM, nil}, {pos, yarnM, nil},
		{pos, func() backend.RoPE { p := yarnM; p.Mode = backend.RoPENeoX; return p }(), nil},
		{pos, func() backend.RoPE { p := yarnM; p.Dims = 8; return p }(), nil},
		{[]int32{5, 6, 7}, yarnM, nil},
	}
	for i, st := range steps {
		if st.setup != nil {
			st.setup()
		}
		const heads = 3
		x, xs := randomF32(t, b, rng, len(st.pos), heads*st.p.HeadDim)
		b.RoPE(x, ints(t, b, st.pos...), st.p)
		cos, sin := make([]float32, st.p.Dims/2), make([]float32, st.p.Dims/2)
		for r, ps := range st.pos {
			ropeAngles(cos, sin, ps, st.p)
			for h := 0; h < heads; h++ {
				at := (r*heads + h) * st.p.HeadDim
				rotateReference(xs[at:at+st.p.HeadDim], cos, sin, st.p.Mode)
			}
		}
		for j, got := range f32s(x) {
			if math.Float32bits(got) != math.Float32bits(xs[j]) {
				t.Fatalf("call %d (%v, %+v): value %d is %g, reference %g", i, st.pos, st.p, j, got, xs[j])
			}
		}
	}
}

// BenchmarkRoPE rotates a 64-token prefill's queries of a 110M-shape model:
// 64 rows of 768, heads of 64, on one thread. "fresh" moves the positions
// every call, so the angles are computed each time (a layer's first RoPE);
// "reused" keeps them, as the other RoPE calls of a forward pass do.
func BenchmarkRoPE(b *testing.B) {
	for _, mode := range []struct {
		name string
		mode backend.RoPEMode
	}{{"normal", backend.RoPENormal}, {"neox", backend.RoPENeoX}} {
		for _, fresh := range []bool{true, false} {
			name := mode.name + "/reused"
			if fresh {
				name = mode.name + "/fresh"
			}
			b.Run(name, func(b *testing.B) {
				be := New(1)
				defer be.Close()
				rng := rand.New(rand.NewPCG(1, 2))
				x, _ := randomF32(b, be, rng, 64, 768)
				pos := newTensor(b, be, gguf.TypeI32, 1, 64)
				ps := i32s(pos)
				for i := range ps {
					ps[i] = int32(i)
				}
				p := backend.RoPE{Mode: mode.mode, HeadDim: 64, Dims: 64, FreqBase: 10000, FreqScale: 1}
				b.SetBytes(64 * 768 * 4)
				for i := 0; i < b.N; i++ {
					if fresh {
						ps[0] = int32(i & 1)
					}
					be.RoPE(x, pos, p)
				}
			})
		}
	}
}
