package vulkan

import (
	"fmt"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/cgo/vk"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Fusion shortens the chain of dependent stages (dispatches separated by
// barriers) of a layer without changing the Backend interface or the model
// code: an op that consumes the result of the dispatch recorded just before
// it takes over that dispatch instead of adding one after a barrier. The
// fused dispatch computes what the two ops compute, bit for bit (the same
// expressions in the same order), so fusion changes neither results nor
// batch invariance; Options.NoFusion turns it off.
//
//   - MatMul then Add(x, x, that matmul's dst): the matmul's epilogue adds
//     its outputs into x too (the residual add).
//   - MatMul, Add(x, x, ·) fused as above, then RMSNorm(xb, x) for a decode
//     batch: the matmul's last workgroup to finish normalizes x's rows
//     (and, when a quantized matmul of xb follows, quantizes them), so the
//     norm and the quantize need no stage of their own.
//   - RoPE(k) then KVWrite(cache, k): the rotation stores each pair in the
//     cache too (shaders/rope_kv.comp), so the cache write needs no stage of
//     its own. Any dispatch since the rotation in its stage may come between.
//   - RMSNorm then a MatMul of its output with quantized weights: the norm
//     quantizes the rows it writes (shaders/rms_norm.comp's QUANT).
//   - SwiGLU then a MatMul of its output with quantized weights: one
//     dispatch computes and quantizes it (shaders/swiglu_quant.comp).

// fuseState is what the last dispatches offer to fuse with.
type fuseState struct {
	matmul *matmulRecord
	norm   *normRecord
	ropes  []ropeRecord // in the current stage
	swiglu *swigluRecord
}

// swigluRecord is an elementwise SwiGLU dispatch.
type swigluRecord struct {
	cmd        int
	views      []view // gate, up, dst
	rows, cols int
}

func (b *Backend) noteSwiGLU(views []view, rows, cols int) {
	if b.cmds.Len() == 0 {
		return
	}
	b.fuse.swiglu = &swigluRecord{cmd: b.cmds.Len() - 1, views: views, rows: rows, cols: cols}
}

// quantizeInSwiGLU replaces the SwiGLU just recorded by one that also
// quantizes its output (n x k, the matmul's x) into qv.
func (b *Backend) quantizeInSwiGLU(xv, qv view, mode uint32, n, k int, qs, ds, ss uint32) bool {
	sw := b.fuse.swiglu
	if sw == nil || !b.fusable(sw.cmd) {
		return false
	}
	out := sw.views[2].span
	// The output may alias an input only exactly (each invocation reads its
	// block before writing it).
	for _, in := range sw.views[:2] {
		if out.overlaps(in.span) && out != in.span {
			return false
		}
	}
	if out != xv.span || sw.rows != n || sw.cols != k || b.segmentTouches(qv.bound) {
		return false
	}
	bs := 32
	if mode == quantQ8_K {
		bs = 256
	}
	views := []view{sw.views[0], sw.views[1], sw.views[2], qv}
	pc := push{}.u(sw.views[0].words(), sw.views[1].words(), sw.views[2].words(), uint32(k), uint32(n), qs, ds, ss)
	gx, gy := grid(int(ceil(n*k/bs, 64)))
	b.cmds.AmendDispatchGroups(sw.cmd, b.pipeline("swiglu_quant", mode), bindings(views), pc, gx, gy)
	b.hz.writes = append(b.hz.writes, qv.bound)
	b.fuse.swiglu = nil
	return true
}

// ropeRecord is a RoPE dispatch.
type ropeRecord struct {
	cmd      int
	barriers int64 // b.stats.Barriers when recorded: its stage
	views    []view
	pc       push
	x        backend.Tensor
	p        backend.RoPE
}

func (b *Backend) noteRoPE(views []view, pc push, x backend.Tensor, p backend.RoPE) {
	if b.cmds.Len() == 0 {
		return
	}
	if len(b.fuse.ropes) > 0 && b.fuse.ropes[0].barriers != b.stats.Barriers {
		b.fuse.ropes = b.fuse.ropes[:0]
	}
	b.fuse.ropes = append(b.fuse.ropes, ropeRecord{cmd: b.cmds.Len() - 1, barriers: b.stats.Barriers, views: views, pc: pc, x: x, p: p})
}

// kvWriteInRoPE has a RoPE of src in the current stage store the rotated
// rows in the cache too: src rows i go to cache rows rows[i].
func (b *Backend) kvWriteInRoPE(cache backend.Tensor, cv, sv, rv view) bool {
	if b.noFusion {
		return false
	}
	for i, r := range b.fuse.ropes {
		if r.barriers != b.stats.Barriers || r.cmd >= b.cmds.Len() || r.views[0].span != sv.span {
			continue
		}
		var typ uint32
		switch cache.Type {
		case gguf.TypeF32:
			typ = 0
		case gguf.TypeF16:
			typ = 1
			if r.p.Mode != backend.RoPENormal {
				return false
			}
		default: // rope_kv.comp writes F32 and F16 caches only
			return false
		}
		// Every value must rotate, and nothing else in the stage may touch
		// the cache or write the rows: the cache write moves up to the RoPE.
		if r.p.Dims != r.p.HeadDim || r.x.Cols != cache.Cols || r.x.Rows != int(rv.bytes/4) ||
			b.segmentTouches(cv.bound) || anyOverlap(b.hz.writes, rv.bound) {
			return false
		}
		views := []view{r.views[0], r.views[1], r.views[2], rv, cv}
		pc := r.pc.u(rv.words(), cv.words(), uint32(cache.Rows))
		b.cmds.AmendDispatch(r.cmd, b.pipeline("rope_kv", typ), bindings(views), pc)
		b.hz.reads = append(b.hz.reads, rv.bound)
		b.hz.writes = append(b.hz.writes, cv.bound)
		b.noteWrite(cv.span)
		b.fuse.ropes = append(b.fuse.ropes[:i], b.fuse.ropes[i+1:]...)
		return true
	}
	return false
}

// normRecord is an RMSNorm dispatch, or a matmul's fused norm (matmul set).
type normRecord struct {
	cmd        int
	views      []view // x, w, dst, dst; a matmul's nine
	pc         push
	rows, cols int
	matmul     *matmulRecord
}

func (b *Backend) noteNorm(views []view, pc push, rows, cols int) {
	if b.cmds.Len() == 0 {
		return
	}
	b.fuse.norm = &normRecord{cmd: b.cmds.Len() - 1, views: views, pc: pc, rows: rows, cols: cols}
}

// quantizeInNorm has the RMSNorm just recorded also quantize its output
// (n x k, the matmul's x) into qv, when it wrote exactly that and not in place.
func (b *Backend) quantizeInNorm(xv, qv view, mode uint32, n, k int, qs, ds, ss uint32) bool {
	nr := b.fuse.norm
	if nr == nil || !b.fusable(nr.cmd) {
		return false
	}
	if mm := nr.matmul; mm != nil {
		// The last workgroup writes the quants after every workgroup read
		// the matmul's own (they may share the scratch): only those may
		// overlap, and the matmul is alone in its stage.
		if nr.views[6].span != xv.span || nr.rows != n || nr.cols != k || qv.bound.overlaps(nr.views[6].bound) {
			return false
		}
		views := append([]view(nil), nr.views...)
		views[8] = qv
		b.cmds.AmendDispatch(nr.cmd, b.pipelineWith(mm, 3+mode), bindings(views), nr.pc.u(qs, ds, ss, 0))
		b.hz.writes = append(b.hz.writes, qv.bound)
		b.fuse.norm = nil
		return true
	}
	out := nr.views[2].span
	if out != xv.span || nr.rows != n || nr.cols != k || out.overlaps(nr.views[0].span) || b.segmentTouches(qv.bound) {
		return false
	}
	views := []view{nr.views[0], nr.views[1], nr.views[2], qv}
	b.cmds.AmendDispatch(nr.cmd, b.pipeline("rms_norm", mode+1), bindings(views), nr.pc.u(qs, ds, ss))
	b.hz.writes = append(b.hz.writes, qv.bound)
	b.fuse.norm = nil
	return true
}

func bindings(views []view) []vk.Binding {
	binds := make([]vk.Binding, len(views))
	for i, v := range views {
		binds[i] = v.bind
	}
	return binds
}

// matmulRecord is a whole-matrix MatMul dispatch.
type matmulRecord struct {
	cmd   int // index in b.cmds
	views []view
	pc    push
	spec  [5]uint32 // the pipeline's: type, rows, columns, ADD, layout
	n, m  int
	alone bool // the first command of its stage
	// residual is the Add's x once the add is fused (pc then has its offset).
	residual *view
	// shader and lanes name the tiled kernel (tiled.go) when it ran; it
	// takes the residual add but not the norm.
	shader    string
	lanes, wg uint32
}

// maxNormRows bounds the rows a matmul's last workgroup normalizes.
const maxNormRows = 4

// fusable reports whether the dispatch recorded as command cmd is still the
// last one recorded (nothing came after it, no submit in between).
func (b *Backend) fusable(cmd int) bool {
	return !b.noFusion && cmd == b.cmds.Len()-1 && cmd >= 0
}

// resetFusion forgets the fusable dispatches: b.cmds was emptied.
func (b *Backend) resetFusion() { b.fuse = fuseState{ropes: b.fuse.ropes[:0]} }

func (b *Backend) noteMatMul(views []view, pc push, spec [5]uint32, n, m int, alone bool) {
	if b.cmds.Len() == 0 { // flushed already
		return
	}
	b.fuse.matmul = &matmulRecord{cmd: b.cmds.Len() - 1, views: views, pc: pc, spec: spec, n: n, m: m, alone: alone}
}

// pipelineWith is the matmul's pipeline with epilogue add (the ADD constant).
func (b *Backend) pipelineWith(mm *matmulRecord, add uint32) *vk.Pipeline {
	spec := mm.spec
	spec[3] = add
	if mm.shader != "" {
		return b.pipeline(mm.shader, append(spec[:], mm.lanes, mm.wg)...)
	}
	return b.pipeline(b.matmul, spec[:]...)
}

// segmentTouches reports whether the commands since the last barrier read or
// write s.
func (b *Backend) segmentTouches(s span) bool {
	return anyOverlap(b.hz.reads, s) || anyOverlap(b.hz.writes, s)
}

// addIntoMatMul records Add(dst, x, y) in the epilogue of the matmul just
// recorded when that wrote x or y and dst is the other operand (x += Wo·a).
func (b *Backend) addIntoMatMul(dst, x, y backend.Tensor) bool {
	mm := b.fuse.matmul
	if mm == nil || mm.residual != nil || !b.fusable(mm.cmd) {
		return false
	}
	for _, t := range []backend.Tensor{dst, x, y} {
		if t.Type != gguf.TypeF32 || t.Rows != mm.n || t.Cols != mm.m {
			return false
		}
	}
	dv, xv, yv := b.bind(dst), b.bind(x), b.bind(y)
	out := mm.views[3].span
	var residual view
	switch {
	case dv.span == xv.span && yv.span == out:
		residual = xv
	case dv.span == yv.span && xv.span == out:
		residual = yv
	default:
		return false
	}
	// The matmul's stage must not touch x otherwise: it now writes it.
	if b.segmentTouches(residual.bound) {
		return false
	}
	views := append([]view(nil), mm.views...)
	views[4] = residual
	mm.views, mm.pc, mm.residual = views, mm.pc.u(residual.words()), &residual
	b.cmds.AmendDispatch(mm.cmd, b.pipelineWith(mm, 1), bindings(views), mm.pc)
	b.hz.reads = append(b.hz.reads, residual.bound)
	b.hz.writes = append(b.hz.writes, residual.bound)
	b.noteWrite(residual.span)
	return true
}

// normIntoMatMul has the matmul just recorded, its residual add fused, also
// compute RMSNorm(dst, x, w) where x is that residual (x += Wo·a; xb =
// rmsnorm(x)), in the workgroup that finishes last.
func (b *Backend) normIntoMatMul(xv, wv, dv view, rows, cols int, eps float32) bool {
	mm := b.fuse.matmul
	if mm == nil || mm.residual == nil || !mm.alone || !b.fusable(mm.cmd) || rows > maxNormRows || mm.shader != "" {
		return false
	}
	if mm.residual.span != xv.span || rows != mm.n || cols != mm.m || b.counters == nil {
		return false
	}
	// The norm's output must not alias what the matmul reads or writes.
	for _, v := range mm.views[:5] {
		if dv.bound.overlaps(v.bound) {
			return false
		}
	}
	cnt := b.counterView()
	views := append([]view(nil), mm.views...)
	views[5], views[6], views[7] = wv, dv, cnt
	pc := append(push(nil), mm.pc...).u(wv.words(), dv.words()).f(eps)
	b.cmds.AmendDispatch(mm.cmd, b.pipelineWith(mm, 2), bindings(views), pc)
	b.hz.reads = append(b.hz.reads, wv.bound)
	b.hz.writes = append(b.hz.writes, dv.bound, cnt.bound)
	b.noteWrite(dv.span)
	b.fuse.norm = &normRecord{cmd: mm.cmd, views: views, pc: pc, rows: rows, cols: cols, matmul: mm}
	b.fuse.matmul = nil
	return true
}

// counterView is the word of device memory, zero between dispatches, that
// the fused norm's workgroups count themselves in (made by newCounters).
func (b *Backend) counterView() view {
	return b.bind(backend.Tensor{Buf: b.counters, Type: gguf.TypeI32, Rows: 1, Cols: 1})
}

// attnCounterView is the first n of Attend's row-and-group counters, zero
// between dispatches, after the fused norm's (attention.go).
func (b *Backend) attnCounterView(n int) view {
	t := backend.Tensor{Buf: b.counters, Type: gguf.TypeI32, Rows: 1, Cols: normCounterBytes/4 + attnCounters}
	return b.bindRange(t, normCounterBytes, 4*int64(n))
}

// normCounterBytes is the fused norm's part of the counter buffer (a word,
// padded to any binding alignment).
const normCounterBytes = 256

// newCounters makes the counter buffer of the fused norm and of Attend and
// records zeroing it, before any dispatch that uses it; their last
// workgroups zero their counters again.
func (b *Backend) newCounters() error {
	size := int64(normCounterBytes + 4*attnCounters)
	m, err := b.Alloc(size)
	if err != nil {
		return fmt.Errorf("vulkan: the workgroup counters: %w", err)
	}
	b.counters = m.(*buffer)
	c := b.counters.chunks[0]
	b.recording()
	bar := b.hz.barrier(nil, []span{{c.Handle, 0, size}})
	b.count(bar)
	b.cmds.Fill(c.Handle, 0, uint64(size), 0, bar)
	return nil
}
