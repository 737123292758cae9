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
// rows.
//
// With an F16 cache the arithmetic is llama.cpp's CPU flash attention (the
// path it takes below 64 query rows): q rounded to F16, an online softmax
// and an F16 accumulator rounded after every key (kernels.AttnFlashF16). The
// Vulkan backend computes the same bits. With an F32 cache it is ggml's
// non-flash attention: float32 products summed in float64, the softmax
// denominator in float64. Keys and values may differ in type (llama.cpp's
// -ctk and -ctv): F16 with Q8_0 or Q4_0 pair as llama.cpp's flash attention
// pairs them (kernels.AttnFlashMixedGroup), other pairs with F32 or heads
// smaller than a block take the F32 cache's path over converted rows.
//
// The work is split by query row and KV head: a task reads an F16 cache's
// rows of the KV head in place (kernels.AttnFlashF16Rows), an F32 cache's
// too, other types converted to float32 once, then computes each head that
// shares them; with an F32 cache ScoreLanes heads at
// a time (kernels.AttnScores) and a weighted sum per head
// (kernels.AttnWeightedSum). The kernels keep the order of every sum.
func (b *Backend) Attend(dst, q, kCache, vCache, pos, seq backend.Tensor, p backend.Attention) {
	positions, seqs := i32s(pos), i32s(seq)
	width := p.Heads * p.HeadDim
	kvWidth := p.KVHeads * p.HeadDim
	if len(positions) != q.Rows || len(seqs) != q.Rows || q.Cols != width || kCache.Cols != kvWidth ||
		vCache.Cols != kvWidth || kCache.Rows != vCache.Rows || p.KVHeads == 0 || p.Heads%p.KVHeads != 0 {
		panic(fmt.Sprintf("cpu: Attend: q %v, k %v, v %v, %d positions, %+v", q, kCache, vCache, len(positions), p))
	}
	mustShape("Attend", dst, q.Rows, width)
	hd := p.HeadDim
	if kvWidth%kCache.Type.BlockSize() != 0 || kvWidth%vCache.Type.BlockSize() != 0 {
		panic(fmt.Sprintf("cpu: Attend: rows of %d values do not divide into %v / %v blocks", kvWidth, kCache.Type, vCache.Type))
	}
	for i := range positions {
		n := int(positions[i]) + 1
		if positions[i] < 0 || n > p.Context || seqs[i] < 0 || int(seqs[i])*p.Context+n > kCache.Rows {
			panic(fmt.Sprintf("cpu: Attend: position %d of sequence %d outside the cache (%d per sequence, %d rows)",
				positions[i], seqs[i], p.Context, kCache.Rows))
		}
	}
	t := &b.tasks.attend
	*t = attendTask{
		p: p, positions: positions, seqs: seqs, qs: f32s(q), out: f32s(dst),
		k: newCacheRows(kCache, hd), v: newCacheRows(vCache, hd),
		flash: kCache.Type == gguf.TypeF16 && vCache.Type == gguf.TypeF16,
		work:  b.work,
	}
	if p.Sinks.Buf != nil {
		mustShape("Attend sinks", p.Sinks, 1, p.Heads)
		t.sinks = f32s(p.Sinks)
	}
	t.quant = quantFlash(kCache.Type, vCache.Type, hd) && t.sinks == nil
	t.mixed = !t.flash && !t.quant && t.sinks == nil &&
		kernels.FlashCacheType(kCache.Type, hd) && kernels.FlashCacheType(vCache.Type, hd)
	b.pool.parallelRange(q.Rows*p.KVHeads, 1, t)
	*t = attendTask{}
}

// cacheRows reads one KV head of a cache's rows as float32.
type cacheRows struct {
	format             *kernels.Format
	typ                gguf.Type
	raw                []byte
	f32                []float32 // the cache itself when it is F32
	f16                bool
	subBlock           bool // heads smaller than (or across) the type's blocks
	rowBytes, cols     int
	headBytes, headDim int
}

func newCacheRows(c backend.Tensor, hd int) cacheRows {
	r := cacheRows{format: mustFormat(c.Type), typ: c.Type, raw: raw(c), rowBytes: int(c.RowBytes()), cols: c.Cols,
		headDim: hd, subBlock: hd%c.Type.BlockSize() != 0}
	if !r.subBlock {
		r.headBytes = c.Type.RowBytes(hd)
	}
	if c.Type == gguf.TypeF32 {
		r.f32 = asF32(r.raw)
	}
	r.f16 = c.Type == gguf.TypeF16
	return r
}

// head returns rows first..first+n-1 of KV head h as float32 and their
// stride, converted into buf unless the cache is F32 (spare is scratch for
// heads smaller than a block).
func (c *cacheRows) head(buf, spare *[]float32, first, n, h int) ([]float32, int) {
	hd := c.headDim
	if c.f32 != nil {
		return c.f32[first*c.cols+h*hd : (first+n-1)*c.cols+(h+1)*hd], c.cols
	}
	rows := grow(buf, n*hd)
	if c.f16 {
		kernels.F16RowsToF32(rows, c.raw[first*c.rowBytes+h*c.headBytes:], n, hd, c.rowBytes)
		return rows, hd
	}
	if c.subBlock {
		// The head shares blocks with its neighbours: the blocks holding it
		// are dequantized and its values taken out.
		bs := c.typ.BlockSize()
		lo, hi := h*hd/bs*bs, ((h+1)*hd+bs-1)/bs*bs
		whole := grow(spare, hi-lo)
		for t := 0; t < n; t++ {
			off := (first+t)*c.rowBytes + c.typ.RowBytes(lo)
			c.format.Dequantize(whole, c.raw[off:off+c.typ.RowBytes(hi-lo)])
			copy(rows[t*hd:(t+1)*hd], whole[h*hd-lo:])
		}
		return rows, hd
	}
	for t := 0; t < n; t++ {
		off := (first+t)*c.rowBytes + h*c.headBytes
		c.format.Dequantize(rows[t*hd:(t+1)*hd], c.raw[off:off+c.headBytes])
	}
	return rows, hd
}

// quantBytes returns rows first..first+n-1 of KV head h of a block-quantized
// (or F16) cache as they are, and their stride in bytes.
func (c *cacheRows) quantBytes(first, n, h int) ([]byte, int) {
	off := first*c.rowBytes + h*c.headBytes
	return c.raw[off : off+(n-1)*c.rowBytes+c.headBytes], c.rowBytes
}

// quantFlash reports whether Attend takes llama.cpp's flash attention for
// quantized caches (kernels.AttnFlashQuantGroup): Q8_0 or Q4_0 keys and
// values with heads of whole blocks. Heads smaller than a block (stories260K's
// 8 values) are dequantized and take the F32 cache's path.
func quantFlash(k, v gguf.Type, hd int) bool {
	quant := func(t gguf.Type) bool { return t == gguf.TypeQ8_0 || t == gguf.TypeQ4_0 }
	return quant(k) && quant(v) && hd%k.BlockSize() == 0 && hd%v.BlockSize() == 0
}

// f16Head returns rows first..first+n-1 of KV head h of an F16 cache as
// they are, and their stride in bytes.
func (c *cacheRows) f16Head(first, n, h int) ([]byte, int) {
	off := first*c.rowBytes + h*c.headBytes
	return c.raw[off : off+(n-1)*c.rowBytes+c.headBytes], c.rowBytes
}

type attendTask struct {
	p         backend.Attention
	positions []int32
	seqs      []int32
	qs, out   []float32
	k, v      cacheRows
	flash     bool      // F16 cache: flash attention with an F16 accumulator
	quant     bool      // quantized cache: flash attention with an F32 accumulator (quantFlash)
	mixed     bool      // F16 keys and quantized values or the reverse (kernels.AttnFlashMixedGroup)
	sinks     []float32 // per query head, or nil
	work      []workerScratch
}

// run computes query rows and KV heads task/KVHeads, task%KVHeads.
func (a *attendTask) run(worker, lo, hi int) {
	p, hd := a.p, a.p.HeadDim
	width := p.Heads * hd
	group := p.Heads / p.KVHeads
	w := &a.work[worker]
	qT := grow(&w.qT, hd*kernels.ScoreLanes)
	for task := lo; task < hi; task++ {
		i, kvh := task/p.KVHeads, task%p.KVHeads
		n := int(a.positions[i]) + 1
		base := int(a.seqs[i]) * p.Context
		first := 0 // the first position this query sees
		if p.Window > 0 {
			first = max(0, n-p.Window)
		}
		nt := n - first
		if a.quant {
			a.runQuant(w, i, kvh, base+first, nt)
			continue
		}
		if a.mixed {
			a.runMixed(w, i, kvh, base+first, nt)
			continue
		}
		if a.flash {
			if a.sinks != nil {
				// gpt-oss's sinks: per query head, over the head converted
				// to float32 (kernels.AttnFlashF16Sink).
				keys, kStride := a.k.head(&w.keys, &w.block, base+first, nt, kvh)
				values, vStride := a.v.head(&w.values, &w.block, base+first, nt, kvh)
				scores, ms, vs := grow(&w.weights, nt), grow(&w.ms, nt), grow(&w.vs, nt)
				qh := grow(&w.qh, hd)
				for h := kvh * group; h < (kvh+1)*group; h++ {
					copy(qh, a.qs[i*width+h*hd:])
					kernels.RoundToF16(qh)
					out := a.out[i*width+h*hd : i*width+(h+1)*hd]
					kernels.AttnFlashF16Sink(out, qh, keys, kStride, values, vStride, nt,
						p.Scale, p.SoftCap, a.sinks[h], scores, ms, vs)
				}
				continue
			}
			// The F16 rows are read in place: no float32 copy of the head.
			keys, kStride := a.k.f16Head(base+first, nt, kvh)
			values, vStride := a.v.f16Head(base+first, nt, kvh)
			// The KV head's query heads go together, so that each block of
			// keys and values is read from memory once for all of them.
			scores, ms, vs := grow(&w.weights, group*nt), grow(&w.ms, group*nt), grow(&w.vs, group*nt)
			lo, hi := i*width+kvh*group*hd, i*width+(kvh+1)*group*hd
			qh := grow(&w.qh, group*hd)
			copy(qh, a.qs[lo:hi])
			kernels.RoundToF16(qh)
			kernels.AttnFlashF16RowsGroup(a.out[lo:hi], qh, group, keys, kStride, values, vStride, nt,
				p.Scale, p.SoftCap, scores, ms, vs)
			continue
		}
		keys, kStride := a.k.head(&w.keys, &w.block, base+first, nt, kvh)
		values, vStride := a.v.head(&w.values, &w.block, base+first, nt, kvh)
		dots := grow(&w.dots, nt*kernels.ScoreLanes)
		scores := grow(&w.weights, nt)
		for h0 := kvh * group; h0 < (kvh+1)*group; h0 += kernels.ScoreLanes {
			lanes := min(kernels.ScoreLanes, (kvh+1)*group-h0)
			clear(qT)
			for j := 0; j < lanes; j++ {
				qh := grow(&w.qh, hd)
				copy(qh, a.qs[i*width+(h0+j)*hd:])
				for d, v := range qh {
					qT[d*kernels.ScoreLanes+j] = v
				}
			}
			kernels.AttnScores(dots, qT, keys, kStride, nt, hd)
			for j := 0; j < lanes; j++ {
				h := h0 + j
				a.softmax(scores, dots, j, h)
				kernels.AttnWeightedSum(a.out[i*width+h*hd:i*width+(h+1)*hd], scores, values, vStride, nt)
			}
		}
	}
}

// softmax turns lane j of the raw dots into the weights of one head: scaled
// (and soft-capped), exponentiated less their maximum, the sum in float64.
// With sinks, head h's sink joins the maximum and the sum (ggml's soft_max
// with sinks), not the weights.
func (a *attendTask) softmax(scores, dots []float32, j, h int) {
	p := a.p
	maxScore := float32(math.Inf(-1))
	for t := range scores {
		s := dots[t*kernels.ScoreLanes+j] * p.Scale
		if p.SoftCap > 0 {
			s = p.SoftCap * float32(math.Tanh(float64(s/p.SoftCap)))
		}
		scores[t] = s
		maxScore = max(maxScore, s)
	}
	if a.sinks != nil {
		maxScore = max(maxScore, a.sinks[h])
	}
	var sum float64
	for t, s := range scores {
		e := float32(math.Exp(float64(s - maxScore)))
		scores[t] = e
		sum += float64(e)
	}
	if a.sinks != nil {
		sum += float64(float32(math.Exp(float64(a.sinks[h] - maxScore))))
	}
	inv := float32(1 / sum)
	for t := range scores {
		scores[t] *= inv
	}
}

// runQuant is query row i's attention for the query heads of KV head kvh over
// nt quantized cache rows from first: the heads' queries quantized to the
// keys' dot type, then kernels.AttnFlashQuantGroup.
func (a *attendTask) runQuant(w *workerScratch, i, kvh, first, nt int) {
	p, hd := a.p, a.p.HeadDim
	group := p.Heads / p.KVHeads
	lo, hi := i*p.Heads*hd+kvh*group*hd, i*p.Heads*hd+(kvh+1)*group*hd
	dot := mustFormat(a.k.typ).DotType
	qBytes := dot.RowBytes(hd)
	if cap(w.row) < group*qBytes {
		w.row = make([]byte, group*qBytes)
	}
	q8 := w.row[:group*qBytes]
	for h := 0; h < group; h++ {
		kernels.QuantizeActivations(dot, q8[h*qBytes:(h+1)*qBytes], a.qs[lo+h*hd:lo+(h+1)*hd])
	}
	keys, kStride := a.k.quantBytes(first, nt, kvh)
	values, vStride := a.v.quantBytes(first, nt, kvh)
	scores, ms, vs := grow(&w.weights, group*nt), grow(&w.ms, group*nt), grow(&w.vs, group*nt)
	kernels.AttnFlashQuantGroup(a.out[lo:hi], q8, group, a.k.typ, keys, kStride, a.v.typ, values, vStride, nt,
		p.Scale, p.SoftCap, scores, ms, vs, grow(&w.qh, hd))
}

// runMixed is runQuant for keys and values of different types, F16 and
// block-quantized (kernels.AttnFlashMixedGroup): the scores as the keys'
// type has them, the accumulator as the values' type has it, as llama.cpp
// pairs them.
func (a *attendTask) runMixed(w *workerScratch, i, kvh, first, nt int) {
	p, hd := a.p, a.p.HeadDim
	group := p.Heads / p.KVHeads
	lo, hi := i*p.Heads*hd+kvh*group*hd, i*p.Heads*hd+(kvh+1)*group*hd
	if need := max(2*hd, gguf.TypeQ8_0.RowBytes(hd)); cap(w.row) < need {
		w.row = make([]byte, need)
	}
	keys, kStride := a.k.quantBytes(first, nt, kvh)
	values, vStride := a.v.quantBytes(first, nt, kvh)
	scores, ms, vs := grow(&w.weights, group*nt), grow(&w.ms, group*nt), grow(&w.vs, group*nt)
	kernels.AttnFlashMixedGroup(a.out[lo:hi], a.qs[lo:hi], group, a.k.typ, keys, kStride, a.v.typ, values, vStride, nt,
		p.Scale, p.SoftCap, scores, ms, vs, grow(&w.qh, hd), w.row[:cap(w.row)])
}
