package cpu

import (
	"math"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/kernels"
)

// The chunkwise gated delta rule. Chunks start at the positions that are
// multiples of C = backend.DeltaNetChunk. Within a chunk, with M0 the state
// (ValueDim x KeyDim) at its start, G_t the sum of the log decays g of its
// tokens 0..t and e(t,i) = exp(G_t - G_i), the recurrence
// M_t = exp(g_t) M_{t-1} + β_t (v_t - exp(g_t) M_{t-1} k_t) k_tᵀ unrolls to
//
//	M_t = exp(G_t) M0 + Σ_{i≤t} e(t,i) δ_i k_iᵀ
//	δ_t = β_t ((v_t - exp(G_t) M0 k_t) - Σ_{i<t} e(t,i) (k_i·k_t) δ_i)
//	o_t = Scale (exp(G_t) M0 q_t + Σ_{i≤t} e(t,i) (k_i·q_t) δ_i)
//
// (forward substitution: δ_t needs only the rows before it). The state keeps
// M0 and, of the unfinished chunk, every row's k, δ and G; a token's result
// is computed from those alone, with the same kernels in the same order
// however many rows its batch holds, and M0 moves on only when a chunk's last
// row is in. The dot products M0·k, M0·q and k_i·k_t, k_i·q_t are
// kernels.AttnScores (float32 products summed in float64, per element in a
// fixed order), the sums over rows kernels.AttnWeightedSum.
//
// Per value head the state holds (see backend.DeltaNet.StateSize):
//
//	M0: ceil(ValueDim/8) blocks of 8 value rows, each KeyDim x 8 (transposed:
//	    AttnScores' lanes are the block's 8 rows)
//	k:  C rows of KeyDim; δ: C rows of ValueDim; G: C values

type chunkTask struct {
	in, out, beta, alpha, dt, a, state []float32
	stride                             int // of the state's rows
	pos, seq                           []int32
	n                                  int
	p                                  backend.DeltaNet
	work                               [][]float32
	tokens                             [][]int
}

// chunkHead is one value head's state and the views of a worker's scratch.
type chunkHead struct {
	m0, k, d, g []float32 // the state: M0 blocks, and the chunk's rows
	// scratch
	q, mk, mq, beta     []float32 // per token of a run: q, M0·k, M0·q, beta
	dots, lanes, coef   []float32
	decay               []float32 // exp(G_t - G_i)
	sum, kT, w, upd     []float32
	dk, dv, dv8, blocks int
}

const chunkLen = backend.DeltaNetChunk

// head points h at value head j of sequence s and at worker's scratch.
func (t *chunkTask) head(h *chunkHead, worker, s, j int) {
	p := t.p
	dk, dv := p.KeyDim, p.ValueDim
	dv8 := (dv + 7) / 8 * 8
	per := p.StateSize() / p.ValueHeads
	st := t.state[s*t.stride+j*per : s*t.stride+(j+1)*per]
	*h = chunkHead{dk: dk, dv: dv, dv8: dv8, blocks: dv8 / 8}
	take := func(buf *[]float32, n int) []float32 {
		v := (*buf)[:n:n]
		*buf = (*buf)[n:]
		return v
	}
	h.m0, h.k, h.d, h.g = take(&st, dv8*dk), take(&st, chunkLen*dk), take(&st, chunkLen*dv), take(&st, chunkLen)
	buf := grow(&t.work[worker], chunkLen*(dk+2*dv8+1+8+2+dk+8)+dk*16+dv)
	h.q, h.mk, h.mq, h.beta = take(&buf, chunkLen*dk), take(&buf, chunkLen*dv8), take(&buf, chunkLen*dv8), take(&buf, chunkLen)
	h.dots, h.lanes, h.coef, h.sum = take(&buf, chunkLen*8), take(&buf, dk*8), take(&buf, chunkLen), take(&buf, dv)
	h.decay = take(&buf, chunkLen)
	h.kT, h.w, h.upd = take(&buf, dk*chunkLen), take(&buf, chunkLen*8), take(&buf, dk*8)
}

// run computes value heads (of sequences) [lo, hi): each over the batch's
// tokens of its sequence, in runs of consecutive positions within a chunk.
func (t *chunkTask) run(worker, lo, hi int) {
	for u := lo; u < hi; u++ {
		s, j := u/t.p.ValueHeads, u%t.p.ValueHeads
		var h chunkHead
		t.head(&h, worker, s, j)
		toks := t.tokens[worker][:0]
		for tk := 0; tk < t.n; tk++ {
			if int(t.seq[tk]) == s {
				toks = append(toks, tk)
			}
		}
		t.tokens[worker] = toks
		for i := 0; i < len(toks); {
			e := i + 1
			for e < len(toks) && t.pos[toks[e]] == t.pos[toks[e-1]]+1 && t.pos[toks[e]]%chunkLen != 0 {
				e++
			}
			t.runChunk(&h, j, toks[i:e])
			i = e
		}
	}
}

// runChunk computes the tokens toks, of consecutive positions within one
// chunk, for value head j.
func (t *chunkTask) runChunk(h *chunkHead, j int, toks []int) {
	p := t.p
	hk, hv, dk, dv := p.KeyHeads, p.ValueHeads, p.KeyDim, p.ValueDim
	cols, kh := p.ConvChannels(), p.KeyHead(j)
	first := int(t.pos[toks[0]])
	if first == 0 {
		clear(h.m0)
	}
	off, cnt := first%chunkLen, len(toks)
	for m, tk := range toks {
		row := t.in[tk*cols : (tk+1)*cols]
		l2NormalizeLanes(h.q[m*dk:(m+1)*dk], row[kh*dk:(kh+1)*dk], p.Eps)
		r := off + m
		l2NormalizeLanes(h.k[r*dk:(r+1)*dk], row[(hk+kh)*dk:(hk+kh+1)*dk], p.Eps)
		bb, g := deltaNetGates(p, t.beta, t.alpha, t.dt, t.a, tk, j)
		h.beta[m] = bb
		if r > 0 {
			g += h.g[r-1]
		}
		h.g[r] = g
	}

	// M0·k and M0·q; the first chunk's M0 is zero.
	mk, mq := h.mk[:cnt*h.dv8], h.mq[:cnt*h.dv8]
	if first < chunkLen {
		clear(mk)
		clear(mq)
	} else {
		for b := 0; b < h.blocks; b++ {
			blk := h.m0[b*dk*8 : (b+1)*dk*8]
			for _, x := range []struct {
				dst, keys []float32
			}{{mk, h.k[off*dk:]}, {mq, h.q}} {
				kernels.AttnScores(h.dots, blk, x.keys, dk, cnt, dk)
				for m := 0; m < cnt; m++ {
					copy(x.dst[m*h.dv8+b*8:m*h.dv8+b*8+8], h.dots[m*8:m*8+8])
				}
			}
		}
	}

	// Forward substitution, four tokens at a time: lanes 2i and 2i+1 of the
	// scores are token i's k and q against the chunk's k rows.
	for g0 := 0; g0 < cnt; g0 += 4 {
		g1 := min(g0+4, cnt)
		clear(h.lanes)
		for m := g0; m < g1; m++ {
			kr := h.k[(off+m)*dk : (off+m+1)*dk]
			qr := h.q[m*dk : (m+1)*dk]
			l := 2 * (m - g0)
			for c := 0; c < dk; c++ {
				h.lanes[c*8+l] = kr[c]
				h.lanes[c*8+l+1] = qr[c]
			}
		}
		kernels.AttnScores(h.dots, h.lanes, h.k, dk, off+g1, dk)
		for m := g0; m < g1; m++ {
			r, l := off+m, 2*(m-g0)
			eG := expF32(h.g[r])
			for i := 0; i < r; i++ {
				h.decay[i] = expF32(h.g[r] - h.g[i])
				h.coef[i] = h.decay[i] * h.dots[i*8+l]
			}
			kernels.AttnWeightedSum(h.sum, h.coef, h.d, dv, r)
			v := t.in[toks[m]*cols+2*hk*dk+j*dv:]
			d := h.d[r*dv : (r+1)*dv]
			bb, mkm := h.beta[m], mk[m*h.dv8:]
			for c := range d {
				d[c] = bb * ((v[c] - eG*mkm[c]) - h.sum[c])
			}
			for i := 0; i < r; i++ {
				h.coef[i] = h.decay[i] * h.dots[i*8+l+1]
			}
			h.coef[r] = h.dots[r*8+l+1]
			kernels.AttnWeightedSum(h.sum, h.coef, h.d, dv, r+1)
			o := t.out[toks[m]*hv*dv+j*dv : toks[m]*hv*dv+(j+1)*dv]
			mqm := mq[m*h.dv8:]
			for c := range o {
				o[c] = p.Scale * (eG*mqm[c] + h.sum[c])
			}
		}
	}
	if off+cnt == chunkLen {
		h.advance()
	}
}

// advance moves M0 to the end of the chunk whose rows are all in:
// M0 = exp(G) M0 + Σ_i exp(G - G_i) δ_i k_iᵀ, G the chunk's last G.
func (h *chunkHead) advance() {
	dk, dv := h.dk, h.dv
	last := h.g[chunkLen-1]
	for i := 0; i < chunkLen; i++ {
		h.coef[i] = expF32(last - h.g[i])
		for c := 0; c < dk; c++ {
			h.kT[c*chunkLen+i] = h.k[i*dk+c]
		}
	}
	eG := expF32(last)
	for b := 0; b < h.blocks; b++ {
		clear(h.w)
		for i := 0; i < chunkLen; i++ {
			for l := 0; l < 8 && b*8+l < dv; l++ {
				h.w[i*8+l] = h.coef[i] * h.d[i*dv+b*8+l]
			}
		}
		// upd[c*8+l] = Σ_i w[i*8+l] kT[c*C+i]: block b of Σ_i w_i k_iᵀ.
		kernels.AttnScores(h.upd, h.w, h.kT, chunkLen, dk, chunkLen)
		blk := h.m0[b*dk*8 : (b+1)*dk*8]
		for x := range blk {
			blk[x] = eG*blk[x] + h.upd[x]
		}
	}
}

// l2NormalizeLanes is l2Normalize with the squares summed in 8 lanes (value
// i in lane i%8, the lanes then summed in order), which pipelines.
func l2NormalizeLanes(dst, x []float32, eps float32) {
	var lanes [8]float32
	i := 0
	for ; i+8 <= len(x); i += 8 {
		v := x[i : i+8 : i+8]
		for l := range lanes {
			lanes[l] += v[l] * v[l]
		}
	}
	for ; i < len(x); i++ {
		lanes[i%8] += x[i] * x[i]
	}
	var sum float32
	for _, s := range lanes {
		sum += s
	}
	scale := 1 / float32(math.Sqrt(float64(sum+eps)))
	for i, v := range x {
		dst[i] = v * scale
	}
}

func expF32(x float32) float32 { return float32(math.Exp(float64(x))) }
