package vulkan

import (
	"fmt"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// The Gated DeltaNet ops (backend.Recurrent) of the hybrid models. As the
// CPU's recurrence (cpu.Backend.DeltaNetByToken; the CPU's default is
// chunkwise), each sequence's tokens are taken in batch order, one at a time, by the
// invocation (SSMConv: one per sequence and channel) or workgroup (DeltaNet:
// one per sequence and value head) that owns that part of the state, so a
// token's result does not depend on the rest of the batch or on how its
// prompt was split.

var _ backend.Recurrent = (*Backend)(nil)

func init() {
	shaderLayouts["ssm_conv"] = [2]int{6, 40}
	shaderLayouts["deltanet"] = [2]int{6, 56}
	shaderLayouts["deltanet_gates"] = [2]int{5, 32}
	shaderLayouts["recurrent_ew"] = [2]int{3, 24}
}

// deltaNetMaxKeyDim is the deltanet shader's limit on KeyDim (its shared q
// and k).
const deltaNetMaxKeyDim = 256

// SSMConv is the causal depthwise convolution with SiLU (see backend.Recurrent).
func (b *Backend) SSMConv(dst, x, w, state, pos, seq backend.Tensor) {
	for _, t := range []backend.Tensor{dst, x, w, state} {
		mustType("SSMConv", t, gguf.TypeF32)
	}
	mustType("SSMConv", pos, gguf.TypeI32)
	mustType("SSMConv", seq, gguf.TypeI32)
	n, c, k := x.Rows, x.Cols, w.Cols
	mustShape("SSMConv", dst, n, c)
	mustShape("SSMConv weight", w, c, k)
	if k < 1 || state.Cols != (k-1)*c {
		panic(fmt.Sprintf("vulkan: SSMConv: state %v for %d channels and kernel %d", state, c, k))
	}
	mustShape("SSMConv positions", pos, 1, n)
	mustShape("SSMConv sequences", seq, 1, n)
	if n == 0 || c == 0 || state.Rows == 0 {
		return
	}
	xv, wv, sv, pv, qv, dv := b.bind(x), b.bind(w), b.bind(state), b.bind(pos), b.bind(seq), b.bind(dst)
	pc := push{}.u(xv.words(), wv.words(), sv.words(), pv.words(), qv.words(), dv.words(),
		uint32(n), uint32(c), uint32(k), uint32(state.Rows))
	gx, gy := grid(int(ceil(state.Rows*c, 64)))
	b.dispatch(b.pipeline("ssm_conv"), []view{xv, wv, sv, pv, qv, dv}, []int{2, 5}, pc, gx, gy)
}

// DeltaNet is the gated delta rule (see backend.Recurrent).
func (b *Backend) DeltaNet(dst, qkv, beta, alpha, dtBias, a, state, pos, seq backend.Tensor, p backend.DeltaNet) {
	n := qkv.Rows
	hk, hv, dk, dv := p.KeyHeads, p.ValueHeads, p.KeyDim, p.ValueDim
	if hk <= 0 || hv%hk != 0 || dk <= 0 || dv <= 0 || dk > deltaNetMaxKeyDim {
		panic(fmt.Sprintf("vulkan: DeltaNet: %d key heads of %d, %d value heads of %d", hk, dk, hv, dv))
	}
	ts := []backend.Tensor{dst, qkv, beta, dtBias, a, state}
	if !p.GroupedBA {
		ts = append(ts, alpha)
	}
	for _, t := range ts {
		mustType("DeltaNet", t, gguf.TypeF32)
	}
	mustType("DeltaNet", pos, gguf.TypeI32)
	mustType("DeltaNet", seq, gguf.TypeI32)
	mustShape("DeltaNet qkv", qkv, n, p.ConvChannels())
	mustShape("DeltaNet", dst, n, hv*dv)
	if p.GroupedBA {
		mustShape("DeltaNet ba", beta, n, 2*hv)
	} else {
		mustShape("DeltaNet beta", beta, n, hv)
		mustShape("DeltaNet alpha", alpha, n, hv)
	}
	mustShape("DeltaNet dt bias", dtBias, 1, hv)
	mustShape("DeltaNet a", a, 1, hv)
	if state.Cols != p.StateSize() {
		panic(fmt.Sprintf("vulkan: DeltaNet: state %v, want %d columns", state, p.StateSize()))
	}
	mustShape("DeltaNet positions", pos, 1, n)
	mustShape("DeltaNet sequences", seq, 1, n)
	if n == 0 || state.Rows == 0 {
		return
	}
	if state.Rows*hv > 65535 {
		panic(fmt.Sprintf("vulkan: DeltaNet: %d sequences of %d value heads", state.Rows, hv))
	}
	// The gates first (the 8-binding limit keeps them out of the deltanet
	// shader): per token and value head, beta then decay.
	gb := b.moeBuf(&b.gates, int64(n*2*hv*4))
	gates := backend.Tensor{Buf: gb, Type: gguf.TypeF32, Rows: n, Cols: 2 * hv}
	bv, tv, cv, gv := b.bind(beta), b.bind(dtBias), b.bind(a), b.bind(gates)
	av, grouped := bv, uint32(1)
	if !p.GroupedBA {
		av, grouped = b.bind(alpha), 0
	}
	gx, gy := grid(int(ceil(n*hv, 64)))
	pc := push{}.u(bv.words(), av.words(), tv.words(), cv.words(), gv.words(), uint32(n), uint32(hv), uint32(hv/hk))
	b.dispatch(b.pipeline("deltanet_gates", grouped), []view{bv, av, tv, cv, gv}, []int{4}, pc, gx, gy)

	xv, sv, pv, qv, ov := b.bind(qkv), b.bind(state), b.bind(pos), b.bind(seq), b.bind(dst)
	pc = push{}.u(xv.words(), gv.words(), sv.words(), pv.words(), qv.words(), ov.words(),
		uint32(n), uint32(hk), uint32(hv), uint32(dk), uint32(dv)).f(p.Eps).f(p.Scale).u(uint32(state.Cols))
	tiled := uint32(0)
	if p.Tiled {
		tiled = 1
	}
	b.dispatch(b.pipeline("deltanet", tiled), []view{xv, gv, sv, pv, qv, ov}, []int{2, 5}, pc, uint32(state.Rows*hv), 1)
}

// Modes of the recurrent_ew shader.
const (
	recSplitHalves uint32 = iota
	recSigmoidMul
)

// SplitHalves splits each row of x into its halves.
func (b *Backend) SplitHalves(lo, hi, x backend.Tensor) {
	for _, t := range []backend.Tensor{lo, hi, x} {
		mustType("SplitHalves", t, gguf.TypeF32)
	}
	c := lo.Cols
	mustShape("SplitHalves", x, lo.Rows, 2*c)
	mustShape("SplitHalves", hi, lo.Rows, c)
	count := lo.Rows * c
	if count == 0 {
		return
	}
	xv, hv, lv := b.bind(x), b.bind(hi), b.bind(lo)
	gx, gy := grid(int(ceil(count, 256)))
	pc := push{}.u(xv.words(), hv.words(), lv.words(), uint32(count), uint32(c), 0)
	b.dispatch(b.pipeline("recurrent_ew", recSplitHalves), []view{xv, hv, lv}, []int{1, 2}, pc, gx, gy)
}

// SigmoidMul computes dst = x * sigmoid(gate).
func (b *Backend) SigmoidMul(dst, x, gate backend.Tensor) {
	for _, t := range []backend.Tensor{dst, x, gate} {
		mustType("SigmoidMul", t, gguf.TypeF32)
	}
	mustShape("SigmoidMul", dst, x.Rows, x.Cols)
	if gate.Rows != x.Rows || (gate.Cols != x.Cols && gate.Cols != 1) {
		panic(fmt.Sprintf("vulkan: SigmoidMul: gate %v for %v", gate, x))
	}
	count := x.Rows * x.Cols
	if count == 0 {
		return
	}
	xv, gv, dv := b.bind(x), b.bind(gate), b.bind(dst)
	gx, gy := grid(int(ceil(count, 256)))
	pc := push{}.u(xv.words(), gv.words(), dv.words(), uint32(count), uint32(x.Cols), uint32(gate.Cols))
	b.dispatch(b.pipeline("recurrent_ew", recSigmoidMul), []view{xv, gv, dv}, []int{2}, pc, gx, gy)
}
