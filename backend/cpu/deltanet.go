package cpu

import (
	"fmt"
	"math"

	"github.com/conveyor-llm/conveyor/backend"
)

// The Gated DeltaNet ops (backend.Recurrent). Each sequence's tokens are
// taken in batch order with the same arithmetic whatever the batch: a token's
// result is the same alone, beside other sequences, or with its prompt split
// into chunks. Work is split across (sequence, channel) or (sequence, value
// head), never within one token's reduction. DeltaNet runs chunkwise
// (deltanet_chunk.go) unless DeltaNetByToken selects the recurrence here.

var _ backend.Recurrent = (*Backend)(nil)

func siluF32(x float32) float32 { return x / (1 + float32(math.Exp(float64(-x)))) }

func sigmoidF32(x float32) float32 { return 1 / (1 + float32(math.Exp(float64(-x)))) }

// softplusF32 is log(1 + e^x), x itself above 20 (as ggml's softplus).
func softplusF32(x float32) float32 {
	if x > 20 {
		return x
	}
	return float32(math.Log1p(math.Exp(float64(x))))
}

// SSMConv is the causal depthwise convolution with SiLU (see backend.Recurrent).
func (b *Backend) SSMConv(dst, x, w, state, pos, seq backend.Tensor) {
	n, c, k := x.Rows, x.Cols, w.Cols
	mustShape("SSMConv", dst, n, c)
	mustShape("SSMConv weight", w, c, k)
	if k < 1 || state.Cols != (k-1)*c {
		panic(fmt.Sprintf("cpu: SSMConv: state %v for %d channels and kernel %d", state, c, k))
	}
	positions, seqs := i32s(pos), i32s(seq)
	if len(positions) != n || len(seqs) != n {
		panic(fmt.Sprintf("cpu: SSMConv: %d tokens, %d positions, %d sequences", n, len(positions), len(seqs)))
	}
	in, out, wt, st := f32s(x), f32s(dst), f32s(w), f32s(state)
	const chunk = 64 // one unit of work: one sequence's channels [lo, lo+chunk)
	t := &b.recurrent.conv
	*t = convTask{in: in, out: out, w: wt, state: st, pos: positions, seq: seqs, n: n, c: c, k: k, perSeq: (c + chunk - 1) / chunk, chunk: chunk}
	b.pool.parallelRange(state.Rows*t.perSeq, 1, t)
	*t = convTask{}
}

// recurrentTasks are the ops' loops, kept on the Backend so that starting
// one allocates nothing, and each worker's scratch.
type recurrentTasks struct {
	conv    convTask
	dn      deltaNetTask
	chunk   chunkTask
	work    [][]float32
	tokens  [][]int
	byToken bool // DeltaNet runs the recurrence token by token
}

// DeltaNetByToken selects how DeltaNet runs: token by token through the
// recurrence, the state being each value head's matrix alone (the layout the
// Vulkan shader shares), or (false, the default) chunkwise. A state is only
// valid for the form that wrote it.
func (b *Backend) DeltaNetByToken(on bool) { b.recurrent.byToken = on }

type convTask struct {
	in, out, w, state []float32
	pos, seq          []int32
	n, c, k           int
	perSeq, chunk     int
}

func (t *convTask) run(_, lo, hi int) {
	n, c, k := t.n, t.c, t.k
	for u := lo; u < hi; u++ {
		s := u / t.perSeq
		c0 := (u % t.perSeq) * t.chunk
		c1 := min(c0+t.chunk, c)
		hist := t.state[s*(k-1)*c : (s+1)*(k-1)*c] // (k-1) rows of c, oldest first
		for tk := 0; tk < n; tk++ {
			if int(t.seq[tk]) != s {
				continue
			}
			if t.pos[tk] == 0 {
				for r := 0; r < k-1; r++ {
					clear(hist[r*c+c0 : r*c+c1])
				}
			}
			xt := t.in[tk*c : (tk+1)*c]
			for ch := c0; ch < c1; ch++ {
				taps := t.w[ch*k : (ch+1)*k]
				var sum float32
				for j := 0; j < k-1; j++ {
					sum += taps[j] * hist[j*c+ch]
				}
				sum += taps[k-1] * xt[ch]
				t.out[tk*c+ch] = siluF32(sum)
				for j := 0; j < k-2; j++ {
					hist[j*c+ch] = hist[(j+1)*c+ch]
				}
				if k > 1 {
					hist[(k-2)*c+ch] = xt[ch]
				}
			}
		}
	}
}

// DeltaNet is the gated delta rule (see backend.Recurrent).
func (b *Backend) DeltaNet(dst, qkv, beta, alpha, dtBias, a, state, pos, seq backend.Tensor, p backend.DeltaNet) {
	n := qkv.Rows
	hk, hv, dk, dv := p.KeyHeads, p.ValueHeads, p.KeyDim, p.ValueDim
	if hk <= 0 || hv%hk != 0 || dk <= 0 || dv <= 0 {
		panic(fmt.Sprintf("cpu: DeltaNet: %d key heads of %d, %d value heads of %d", hk, dk, hv, dv))
	}
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
		panic(fmt.Sprintf("cpu: DeltaNet: state %v, want %d columns", state, p.StateSize()))
	}
	positions, seqs := i32s(pos), i32s(seq)
	if len(positions) != n || len(seqs) != n {
		panic(fmt.Sprintf("cpu: DeltaNet: %d tokens, %d positions, %d sequences", n, len(positions), len(seqs)))
	}
	for i, ps := range positions {
		if ps < 0 {
			panic(fmt.Sprintf("cpu: DeltaNet: token %d at position %d", i, ps))
		}
	}
	in, out, bt, dt, av, st := f32s(qkv), f32s(dst), f32s(beta), f32s(dtBias), f32s(a), f32s(state)
	var al []float32
	if !p.GroupedBA {
		al = f32s(alpha)
	}
	r := &b.recurrent
	if len(r.work) < len(b.work) {
		r.work = make([][]float32, len(b.work))
		r.tokens = make([][]int, len(b.work))
	}
	if !r.byToken {
		t := &r.chunk
		*t = chunkTask{in: in, out: out, beta: bt, alpha: al, dt: dt, a: av, state: st, stride: state.Cols,
			pos: positions, seq: seqs, n: n, p: p, work: r.work, tokens: r.tokens}
		b.pool.parallelRange(state.Rows*hv, 1, t)
		*t = chunkTask{}
		return
	}
	t := &r.dn
	*t = deltaNetTask{in: in, out: out, beta: bt, alpha: al, dt: dt, a: av, state: st, stride: state.Cols,
		pos: positions, seq: seqs, n: n, p: p, work: r.work}
	b.pool.parallelRange(state.Rows*hv, 1, t)
	*t = deltaNetTask{}
}

type deltaNetTask struct {
	in, out, beta, alpha, dt, a, state []float32
	stride                             int // of the state's rows
	pos, seq                           []int32
	n                                  int
	p                                  backend.DeltaNet
	work                               [][]float32
}

// run computes value heads (of sequences) [lo, hi): each over the batch's
// tokens of its sequence, in order.
func (t *deltaNetTask) run(worker, lo, hi int) {
	p := t.p
	hk, hv, dk, dv := p.KeyHeads, p.ValueHeads, p.KeyDim, p.ValueDim
	cols := p.ConvChannels()
	scratch := grow(&t.work[worker], 2*dk+dv)
	q, kk, mk := scratch[:dk], scratch[dk:2*dk], scratch[2*dk:]
	for u := lo; u < hi; u++ {
		s, j := u/hv, u%hv
		m := t.state[s*t.stride+j*dv*dk : s*t.stride+(j+1)*dv*dk] // dv rows of dk
		kh := p.KeyHead(j)
		for tk := 0; tk < t.n; tk++ {
			if int(t.seq[tk]) != s {
				continue
			}
			if t.pos[tk] == 0 {
				clear(m)
			}
			row := t.in[tk*cols : (tk+1)*cols]
			l2Normalize(q, row[kh*dk:(kh+1)*dk], p.Eps)
			l2Normalize(kk, row[(hk+kh)*dk:(hk+kh+1)*dk], p.Eps)
			v := row[2*hk*dk+j*dv : 2*hk*dk+(j+1)*dv]
			bb, g := deltaNetGates(p, t.beta, t.alpha, t.dt, t.a, tk, j)
			decay := float32(math.Exp(float64(g)))
			for i := range m {
				m[i] *= decay
			}
			for r := 0; r < dv; r++ {
				var sum float32
				for c, kv := range m[r*dk : (r+1)*dk] {
					sum += kv * kk[c]
				}
				mk[r] = sum
			}
			o := t.out[tk*hv*dv+j*dv : tk*hv*dv+(j+1)*dv]
			for r := 0; r < dv; r++ {
				u := bb * (v[r] - mk[r])
				mr := m[r*dk : (r+1)*dk]
				var sum float32
				for c := range mr {
					mr[c] += u * kk[c]
					sum += mr[c] * q[c]
				}
				o[r] = sum * p.Scale
			}
		}
	}
}

// deltaNetGates are token tk's beta = sigmoid(beta logit) and log decay
// g = softplus(alpha logit + dtBias) * a for value head j.
func deltaNetGates(p backend.DeltaNet, beta, alpha, dt, a []float32, tk, j int) (bb, g float32) {
	hv := p.ValueHeads
	var bl, alog float32
	if p.GroupedBA {
		per := hv / p.KeyHeads
		ba := beta[tk*2*hv+(j/per)*2*per:]
		bl, alog = ba[j%per], ba[per+j%per]
	} else {
		bl, alog = beta[tk*hv+j], alpha[tk*hv+j]
	}
	return sigmoidF32(bl), softplusF32(alog+dt[j]) * a[j]
}

// l2Normalize writes x / sqrt(sum(x²) + eps) into dst.
func l2Normalize(dst, x []float32, eps float32) {
	var sum float32
	for _, v := range x {
		sum += v * v
	}
	scale := 1 / float32(math.Sqrt(float64(sum+eps)))
	for i, v := range x {
		dst[i] = v * scale
	}
}

// SplitHalves splits each row of x into its halves.
func (b *Backend) SplitHalves(lo, hi, x backend.Tensor) {
	c := lo.Cols
	mustShape("SplitHalves", x, lo.Rows, 2*c)
	mustShape("SplitHalves", hi, lo.Rows, c)
	in, a, bb := f32s(x), f32s(lo), f32s(hi)
	for r := 0; r < x.Rows; r++ {
		copy(a[r*c:(r+1)*c], in[2*r*c:])
		copy(bb[r*c:(r+1)*c], in[(2*r+1)*c:])
	}
}

// SigmoidMul computes dst = x * sigmoid(gate).
func (b *Backend) SigmoidMul(dst, x, gate backend.Tensor) {
	mustShape("SigmoidMul", dst, x.Rows, x.Cols)
	if gate.Rows != x.Rows || (gate.Cols != x.Cols && gate.Cols != 1) {
		panic(fmt.Sprintf("cpu: SigmoidMul: gate %v for %v", gate, x))
	}
	in, out, g := f32s(x), f32s(dst), f32s(gate)
	for r := 0; r < x.Rows; r++ {
		for c := 0; c < x.Cols; c++ {
			gv := g[r]
			if gate.Cols != 1 {
				gv = g[r*x.Cols+c]
			}
			out[r*x.Cols+c] = in[r*x.Cols+c] * sigmoidF32(gv)
		}
	}
}
