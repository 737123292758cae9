package cpu

import (
	"github.com/conveyor-llm/conveyor/kernels"
)

// recurrenceVec is the recurrence token by token on the chunkwise layout's
// M0 blocks, with the kernels: an experiment to compare against.
var recurrenceVec = false

func (t *chunkTask) runVec(h *chunkHead, j int, toks []int) {
	p := t.p
	hk, hv, dk, dv := p.KeyHeads, p.ValueHeads, p.KeyDim, p.ValueDim
	cols, kh := p.ConvChannels(), p.KeyHead(j)
	kq := h.q[:2*dk]
	pair := h.kT[:0]
	_ = pair
	for _, tk := range toks {
		if t.pos[tk] == 0 {
			clear(h.m0)
		}
		row := t.in[tk*cols : (tk+1)*cols]
		l2NormalizeLanes(kq[:dk], row[(hk+kh)*dk:(hk+kh+1)*dk], p.Eps)
		l2NormalizeLanes(kq[dk:], row[kh*dk:(kh+1)*dk], p.Eps)
		var kdq float64
		for c := 0; c < dk; c++ {
			kdq += float64(kq[c] * kq[dk+c])
		}
		bb, g := deltaNetGates(p, t.beta, t.alpha, t.dt, t.a, tk, j)
		decay := expF32(g)
		v := row[2*hk*dk+j*dv:]
		o := t.out[tk*hv*dv+j*dv : tk*hv*dv+(j+1)*dv]
		w := [2]float32{decay, 1}
		for b := 0; b < h.blocks; b++ {
			blk := h.m0[b*dk*8 : (b+1)*dk*8]
			kernels.AttnScores(h.dots, blk, kq, dk, 2, dk)
			u := h.w[:8]
			clear(u)
			for l := 0; l < 8 && b*8+l < dv; l++ {
				r := b*8 + l
				u[l] = bb * (v[r] - decay*h.dots[l])
				o[r] = p.Scale * (decay*h.dots[8+l] + u[l]*float32(kdq))
			}
			two := h.kT[:2*dk*8]
			copy(two, blk)
			kernels.AttnScores(two[dk*8:], u, kq, 1, dk, 1)
			kernels.AttnWeightedSum(blk, w[:], two, dk*8, 2)
		}
	}
}
