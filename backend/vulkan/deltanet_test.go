package vulkan

import (
	"fmt"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// recurrentBatch is a batch of n tokens over seqs sequences, interleaved:
// sequence 0 starts afresh (position 0) and the others continue their state,
// each sequence's positions increasing in batch order.
func recurrentBatch(e *env, n, seqs int) (pos, seq pair) {
	ps, ss := make([]int32, n), make([]int32, n)
	next := make([]int32, seqs)
	for s := 1; s < seqs; s++ {
		next[s] = int32(3 + s)
	}
	for i := range ps {
		s := e.rng.IntN(seqs)
		ss[i], ps[i] = int32(s), next[s]
		next[s]++
	}
	return e.i32(ps), e.i32(ss)
}

// SSMConv and DeltaNet agree with the CPU (DeltaNet with the CPU's
// recurrence, whose state layout the shader shares) on fresh random inputs and states,
// over batches that interleave sequences (one starting at position 0, the
// others continuing), called twice so the second call continues the state
// the first left: outputs (poisoned first) and states within
// ‖vk−cpu‖/‖cpu‖ ≤ 1e-5 (the shaders' exp, sqrt and division are not the
// CPU's correctly rounded ones).
func TestRecurrentMatchesCPU(t *testing.T) {
	e := newEnv(t, Options{})
	const tol = 1e-5
	for _, sh := range [][3]int{{1, 1, 4}, {7, 3, 4}, {13, 2, 2}, {5, 4, 1}} {
		n, seqs, k := sh[0], sh[1], sh[2]
		c := 37
		x := e.f32(n, c, 1)
		w := e.f32(c, k, 0.5)
		state := e.f32(seqs, (k-1)*c, 1)
		dst := e.alloc(gguf.TypeF32, n, c)
		for call := range 2 {
			pos, seq := recurrentBatch(e, n, seqs)
			if call == 1 {
				x = e.f32(n, c, 1)
			}
			e.poison(dst)
			e.vk.SSMConv(dst.g, x.g, w.g, state.g, pos.g, seq.g)
			e.cpu.SSMConv(dst.c, x.c, w.c, state.c, pos.c, seq.c)
			what := fmt.Sprintf("SSMConv %v call %d", sh, call)
			e.check(what, dst, tol)
			if k > 1 {
				e.check(what+" state", state, tol)
			}
		}
	}
	e.cpu.DeltaNetByToken(true)
	for _, c := range []struct {
		p       backend.DeltaNet
		n, seqs int
	}{
		{backend.DeltaNet{KeyHeads: 2, ValueHeads: 4, KeyDim: 16, ValueDim: 8, Tiled: true}, 9, 3},
		{backend.DeltaNet{KeyHeads: 2, ValueHeads: 4, KeyDim: 16, ValueDim: 8, GroupedBA: true}, 9, 3},
		{backend.DeltaNet{KeyHeads: 1, ValueHeads: 2, KeyDim: 128, ValueDim: 70}, 4, 2},
		{backend.DeltaNet{KeyHeads: 3, ValueHeads: 3, KeyDim: 32, ValueDim: 32, Tiled: true}, 1, 1},
	} {
		p := c.p
		p.Eps, p.Scale = 1e-6, 1/float32(p.KeyDim)
		n, hv := c.n, p.ValueHeads
		state := e.f32(c.seqs, p.StateSize(), 0.1)
		dtBias, a := e.f32(1, hv, 1), e.f32(1, hv, 1)
		dst := e.alloc(gguf.TypeF32, n, hv*p.ValueDim)
		for call := range 2 {
			pos, seq := recurrentBatch(e, n, c.seqs)
			qkv := e.f32(n, p.ConvChannels(), 1)
			beta, alpha := e.f32(n, hv, 2), e.f32(n, hv, 2)
			if p.GroupedBA {
				beta = e.f32(n, 2*hv, 2)
			}
			e.poison(dst)
			e.vk.DeltaNet(dst.g, qkv.g, beta.g, alpha.g, dtBias.g, a.g, state.g, pos.g, seq.g, p)
			e.cpu.DeltaNet(dst.c, qkv.c, beta.c, alpha.c, dtBias.c, a.c, state.c, pos.c, seq.c, p)
			what := fmt.Sprintf("DeltaNet %+v n %d call %d", c.p, n, call)
			e.check(what, dst, tol)
			e.check(what+" state", state, tol)
		}
	}
}

// SplitHalves is an exact copy; SigmoidMul agrees within 1e-6 with a full
// gate, a one-column gate and in place.
func TestRecurrentElementwiseMatchesCPU(t *testing.T) {
	e := newEnv(t, Options{})
	for _, rows := range []int{1, 5, 300} {
		c := 24
		x := e.f32(rows, 2*c, 1)
		lo, hi := e.alloc(gguf.TypeF32, rows, c), e.alloc(gguf.TypeF32, rows, c)
		e.poison(lo)
		e.poison(hi)
		e.vk.SplitHalves(lo.g, hi.g, x.g)
		e.cpu.SplitHalves(lo.c, hi.c, x.c)
		e.check("SplitHalves first", lo, 0)
		e.check("SplitHalves second", hi, 0)

		for _, gc := range []int{c, 1} {
			gate := e.f32(rows, gc, 3)
			dst := e.alloc(gguf.TypeF32, rows, c)
			e.poison(dst)
			e.vk.SigmoidMul(dst.g, lo.g, gate.g)
			e.cpu.SigmoidMul(dst.c, lo.c, gate.c)
			e.check(fmt.Sprintf("SigmoidMul gate of %d columns", gc), dst, 1e-6)
			e.vk.SigmoidMul(hi.g, hi.g, gate.g)
			e.cpu.SigmoidMul(hi.c, hi.c, gate.c)
			e.check(fmt.Sprintf("SigmoidMul in place, gate of %d columns", gc), hi, 1e-6)
		}
	}
}
