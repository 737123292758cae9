package vulkan

import (
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Route, MatMulID and MoESum agree with the CPU backend at awkward sizes:
// experts of rows not a multiple of the matmul tile, batches where some
// experts are chosen by many tokens and some by none, shared and per-slot
// inputs, float and quantized stacks.
func TestMoEMatchesCPU(t *testing.T) {
	e := newEnv(t, Options{})
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeMXFP4} {
		for _, shape := range [][4]int{{1, 8, 2, 37}, {7, 5, 3, 13}, {19, 8, 2, 64}} {
			n, experts, used, m := shape[0], shape[1], shape[2], shape[3]
			k := 256
			logits := e.f32(n, experts, 1)
			ids := e.alloc(gguf.TypeI32, n, used)
			weights := e.alloc(gguf.TypeF32, n, used)
			for _, g := range []backend.Gating{backend.GatingSoftmax, backend.GatingTopKSoftmax} {
				e.vk.Route(ids.g, weights.g, logits.g, g)
				e.cpu.Route(ids.c, weights.c, logits.c, g)
				gi, ci := e.read(ids)
				if string(gi) != string(ci) {
					t.Fatalf("%v: Route chose other experts", shape)
				}
				e.check("Route weights", weights, 1e-6)
			}
			w := e.weight(typ, experts*m, k)
			x := e.f32(n, k, 1)
			up := e.alloc(gguf.TypeF32, n*used, m)
			e.poison(up)
			e.vk.MatMulID(up.g, w.g, x.g, ids.g)
			e.cpu.MatMulID(up.c, w.c, x.c, ids.c)
			e.check(typ.String()+" MatMulID shared input", up, 2e-6)

			bs := typ.BlockSize()
			down := e.weight(typ, experts*k, (m+bs-1)/bs*bs)
			xs := e.f32(n*used, down.g.Cols, 1)
			out := e.alloc(gguf.TypeF32, n*used, k)
			e.poison(out)
			e.vk.MatMulID(out.g, down.g, xs.g, ids.g)
			e.cpu.MatMulID(out.c, down.c, xs.c, ids.c)
			e.check(typ.String()+" MatMulID per-slot input", out, 2e-6)

			sum := e.alloc(gguf.TypeF32, n, k)
			e.poison(sum)
			e.vk.MoESum(sum.g, out.g, weights.g)
			e.cpu.MoESum(sum.c, out.c, weights.c)
			e.check("MoESum", sum, 1e-6)
		}
	}
}
