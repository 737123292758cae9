package cpu

import (
	"fmt"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
	"math"

	"github.com/conveyor-llm/conveyor/backend"
)

// Attend computes causal attention: for query row i (position p, sequence s) and
// head h, softmax(scale * q·k) over cache rows s*Context+0 .. s*Context+p in
// order (only the last Window of them with a sliding window, the scores
// soft-capped when SoftCap is set), then the weighted sum of the matching V
// rows. The arithmetic is ggml's non-flash attention: the dot products meet the
// cache in its own type, so with an F16 cache q and the softmax weights are
// rounded to F16 first; products are float32 and their sums float64; the
// softmax denominator is float64.
//
// llama.cpp's CPU build actually runs flash attention: an online softmax whose
// V accumulator is F16, rounded after every key. Emulating that brings the F32
// stories model's logits to within 1e-5 of llama.cpp's (from 3e-3), but an F16
// accumulator turns one-ulp differences in exp between the CPU and a GPU into
// different roundings, and the Vulkan backend would no longer give the CPU's
// tokens; so the arithmetic here stays the one both backends can share.
func (b *Backend) Attend(dst, q, kCache, vCache, pos, seq backend.Tensor, p backend.Attention) {
	positions, seqs := i32s(pos), i32s(seq)
	width := p.Heads * p.HeadDim
	kvWidth := p.KVHeads * p.HeadDim
	if len(positions) != q.Rows || len(seqs) != q.Rows || q.Cols != width || kCache.Cols != kvWidth ||
		vCache.Cols != kvWidth || kCache.Rows != vCache.Rows || p.KVHeads == 0 || p.Heads%p.KVHeads != 0 {
		panic(fmt.Sprintf("cpu: Attend: q %v, k %v, v %v, %d positions, %+v", q, kCache, vCache, len(positions), p))
	}
	mustShape("Attend", dst, q.Rows, width)
	qs, out := f32s(q), f32s(dst)
	kFormat, vFormat := mustFormat(kCache.Type), mustFormat(vCache.Type)
	kRaw, vRaw := raw(kCache), raw(vCache)
	kRowBytes, vRowBytes := int(kCache.RowBytes()), int(vCache.RowBytes())
	group := p.Heads / p.KVHeads
	hd := p.HeadDim
	if hd%kCache.Type.BlockSize() != 0 || hd%vCache.Type.BlockSize() != 0 {
		panic(fmt.Sprintf("cpu: Attend: head dim %d does not divide into %v / %v blocks", hd, kCache.Type, vCache.Type))
	}
	kHeadBytes, vHeadBytes := kCache.Type.RowBytes(hd), vCache.Type.RowBytes(hd)
	roundQ := kCache.Type == gguf.TypeF16
	roundP := vCache.Type == gguf.TypeF16

	b.pool.parallelFor(q.Rows*p.Heads, 1, func(lo, hi int) {
		qh := make([]float32, hd)
		kh := make([]float32, hd)
		vh := make([]float32, hd)
		acc := make([]float64, hd)
		var scores []float32
		for task := lo; task < hi; task++ {
			i, h := task/p.Heads, task%p.Heads
			n := int(positions[i]) + 1
			base := int(seqs[i]) * p.Context
			if positions[i] < 0 || n > p.Context || seqs[i] < 0 || base+n > kCache.Rows {
				panic(fmt.Sprintf("cpu: Attend: position %d of sequence %d outside the cache (%d per sequence, %d rows)",
					positions[i], seqs[i], p.Context, kCache.Rows))
			}
			kvh := h / group
			copy(qh, qs[i*width+h*hd:i*width+(h+1)*hd])
			if roundQ {
				roundToF16(qh)
			}
			first := 0 // the first position this query sees
			if p.Window > 0 {
				first = max(0, n-p.Window)
			}
			scores = scores[:0]
			maxScore := float32(math.Inf(-1))
			for t := first; t < n; t++ {
				r := base + t
				kFormat.Dequantize(kh, kRaw[r*kRowBytes+kvh*kHeadBytes:][:kHeadBytes])
				var dot float64
				for d, v := range qh {
					dot += float64(v * kh[d])
				}
				s := float32(dot) * p.Scale
				if p.SoftCap > 0 {
					s = p.SoftCap * float32(math.Tanh(float64(s/p.SoftCap)))
				}
				scores = append(scores, s)
				maxScore = max(maxScore, s)
			}
			var sum float64
			for t, s := range scores {
				e := float32(math.Exp(float64(s - maxScore)))
				scores[t] = e
				sum += float64(e)
			}
			inv := float32(1 / sum)
			for t := range scores {
				scores[t] *= inv
			}
			if roundP {
				roundToF16(scores)
			}
			clear(acc)
			for t, w := range scores {
				r := base + first + t
				vFormat.Dequantize(vh, vRaw[r*vRowBytes+kvh*vHeadBytes:][:vHeadBytes])
				for d, v := range vh {
					acc[d] += float64(w * v)
				}
			}
			o := out[i*width+h*hd : i*width+(h+1)*hd]
			for d := range o {
				o[d] = float32(acc[d])
			}
		}
	})
}

// roundToF16 rounds each value to the nearest half-precision value.
func roundToF16(v []float32) {
	for i, x := range v {
		v[i] = kernels.F16ToF32(kernels.F32ToF16(x))
	}
}
