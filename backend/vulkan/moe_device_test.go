package vulkan

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// moeSizes are the awkward sizes of the device routing tests: one expert,
// a few, many; one, two and eight chosen; one token and a batch of 17.
var moeSizes = func() (s [][3]int) {
	for _, experts := range []int{1, 8, 128} {
		for _, used := range []int{1, 2, 8} {
			for _, n := range []int{1, 17} {
				if used <= experts {
					s = append(s, [3]int{experts, used, n})
				}
			}
		}
	}
	return s
}()

// tiedLogits are random router logits on a grid of 0.5, so many are tied:
// the choice among equal logits (the lower expert) is tested too.
func (e *env) tiedLogits(n, experts int) pair {
	xs := e.randn(n*experts, 2)
	for i := range xs {
		xs[i] = float32(math.Round(float64(xs[i]))) / 2
	}
	p := e.alloc(gguf.TypeF32, n, experts)
	e.write(p, f32bytes(xs))
	return p
}

// poisonIDs fills an I32 tensor with -7 on both backends.
func (e *env) poisonIDs(p pair) {
	xs := make([]int32, p.g.Rows*p.g.Cols)
	for i := range xs {
		xs[i] = -7
	}
	e.write(p, i32bytes(xs))
}

// Route on the device chooses exactly the CPU's experts (ties included) and
// weights within 1e-6 (exp in float32 on the device, float64 on the CPU: a
// few ulps per weight).
func TestRouteOnDeviceMatchesCPU(t *testing.T) {
	e := newEnv(t, Options{})
	for _, sz := range moeSizes {
		experts, used, n := sz[0], sz[1], sz[2]
		logits := e.tiedLogits(n, experts)
		ids := e.alloc(gguf.TypeI32, n, used)
		weights := e.alloc(gguf.TypeF32, n, used)
		for _, g := range []backend.Gating{backend.GatingSoftmax, backend.GatingTopKSoftmax} {
			e.poisonIDs(ids)
			e.poison(weights)
			e.vk.Route(ids.g, weights.g, logits.g, g)
			e.cpu.Route(ids.c, weights.c, logits.c, g)
			gi, ci := e.read(ids)
			if !bytes.Equal(gi, ci) {
				t.Fatalf("experts %d, used %d, n %d, gating %d: Route chose %v, the CPU %v", experts, used, n, g, floats(gi), floats(ci))
			}
			e.check(fmt.Sprintf("experts %d, used %d, n %d, gating %d: Route weights", experts, used, n, g), weights, 1e-6)
		}
	}
	if t.Failed() {
		return
	}
	// A NaN is chosen only where it is the first expert not yet taken.
	nan := float32(math.NaN())
	logits := e.alloc(gguf.TypeF32, 2, 4)
	e.write(logits, f32bytes([]float32{nan, 1, 3, 3, 2, nan, 5, nan}))
	ids := e.alloc(gguf.TypeI32, 2, 3)
	weights := e.alloc(gguf.TypeF32, 2, 3)
	e.vk.Route(ids.g, weights.g, logits.g, backend.GatingSoftmax)
	e.cpu.Route(ids.c, weights.c, logits.c, backend.GatingSoftmax)
	if gi, ci := e.read(ids); !bytes.Equal(gi, ci) {
		t.Fatalf("with NaN logits Route chose %v, the CPU %v", gi, ci)
	}
}

// MatMulID grouped on the device agrees with the CPU at the awkward sizes,
// for shared and per-slot inputs, float and quantized stacks; and the host
// fallback does too. The tolerance is MatMul's (the shader sums in another
// order than the CPU).
func TestMatMulIDOnDeviceMatchesCPU(t *testing.T) {
	for _, hostOnly := range []bool{false, true} {
		e := newEnv(t, Options{})
		e.vk.moe.hostOnly = hostOnly
		for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeQ8_0, gguf.TypeQ4_K} {
			for _, sz := range moeSizes {
				experts, used, n := sz[0], sz[1], sz[2]
				if hostOnly && experts == 128 {
					continue
				}
				m, k := 13, 256
				what := fmt.Sprintf("host %v, %v, experts %d, used %d, n %d", hostOnly, typ, experts, used, n)
				logits := e.tiedLogits(n, experts)
				ids := e.alloc(gguf.TypeI32, n, used)
				weights := e.alloc(gguf.TypeF32, n, used)
				e.vk.Route(ids.g, weights.g, logits.g, backend.GatingSoftmax)
				e.cpu.Route(ids.c, weights.c, logits.c, backend.GatingSoftmax)
				w := e.weight(typ, experts*m, k)
				x := e.f32(n, k, 1)
				up := e.alloc(gguf.TypeF32, n*used, m)
				e.poison(up)
				e.vk.MatMulID(up.g, w.g, x.g, ids.g)
				e.cpu.MatMulID(up.c, w.c, x.c, ids.c)
				e.check(what+": MatMulID shared input", up, 2e-6)

				down := e.weight(typ, experts*k, 256)
				xs := e.f32(n*used, 256, 1)
				out := e.alloc(gguf.TypeF32, n*used, k)
				e.poison(out)
				e.vk.MatMulID(out.g, down.g, xs.g, ids.g)
				e.cpu.MatMulID(out.c, down.c, xs.c, ids.c)
				e.check(what+": MatMulID per-slot input", out, 2e-6)
				if t.Failed() {
					return
				}
			}
		}
	}
}

// A token's expert outputs are bit-identical alone and in a batch of 17.
func TestMatMulIDBatchInvariant(t *testing.T) {
	e := newEnv(t, Options{})
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeQ4_K} {
		experts, used, n, m, k := 128, 8, 17, 40, 512
		logits := e.tiedLogits(n, experts)
		ids := e.alloc(gguf.TypeI32, n, used)
		weights := e.alloc(gguf.TypeF32, n, used)
		e.vk.Route(ids.g, weights.g, logits.g, backend.GatingSoftmax)
		w := e.weight(typ, experts*m, k)
		x := e.f32(n, k, 1)
		all := e.alloc(gguf.TypeF32, n*used, m)
		e.vk.MatMulID(all.g, w.g, x.g, ids.g)
		batch, _ := e.read(all)
		for _, i := range []int{0, 5, 16} {
			one := e.alloc(gguf.TypeF32, used, m)
			e.poison(one)
			e.vk.MatMulID(one.g, w.g, x.g.Slice(i, i+1), ids.g.Slice(i, i+1))
			alone, _ := e.read(one)
			row := used * m * 4
			if !bytes.Equal(alone, batch[i*row:(i+1)*row]) {
				t.Errorf("%v: token %d's outputs differ alone and in the batch", typ, i)
			}
		}
	}
}
