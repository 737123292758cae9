package vulkan

import (
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
//   - RMSNorm then a MatMul of its output with quantized weights: the norm
//     quantizes the rows it writes (shaders/rms_norm.comp's QUANT).

// fuseState is what the last dispatches offer to fuse with.
type fuseState struct {
	matmul *matmulRecord
	norm   *normRecord
}

// normRecord is an RMSNorm dispatch.
type normRecord struct {
	cmd        int
	views      []view // x, w, dst, dst
	pc         push
	rows, cols int
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
	out := nr.views[2].span
	if out != xv.span || nr.rows != n || nr.cols != k || out.overlaps(nr.views[0].span) || b.segmentTouches(qv.span) {
		return false
	}
	views := []view{nr.views[0], nr.views[1], nr.views[2], qv}
	b.cmds.AmendDispatch(nr.cmd, b.pipeline("rms_norm", mode+1), bindings(views), nr.pc.u(qs, ds, ss))
	b.hz.writes = append(b.hz.writes, qv.span)
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
	typ   gguf.Type
	n, m  int
}

// fusable reports whether the dispatch recorded as command cmd is still the
// last one recorded (nothing came after it, no submit in between).
func (b *Backend) fusable(cmd int) bool {
	return !b.noFusion && cmd == b.cmds.Len()-1 && cmd >= 0
}

// resetFusion forgets the fusable dispatches: b.cmds was emptied.
func (b *Backend) resetFusion() { b.fuse = fuseState{} }

func (b *Backend) noteMatMul(views []view, pc push, typ gguf.Type, n, m int) {
	if b.cmds.Len() == 0 { // flushed already
		return
	}
	b.fuse.matmul = &matmulRecord{cmd: b.cmds.Len() - 1, views: views, pc: pc, typ: typ, n: n, m: m}
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
	if mm == nil || !b.fusable(mm.cmd) {
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
	if b.segmentTouches(residual.span) {
		return false
	}
	views := append(append([]view(nil), mm.views[:4]...), residual)
	b.cmds.AmendDispatch(mm.cmd, b.pipeline(b.matmul, uint32(mm.typ), mmRows, mmCols, 1), bindings(views), mm.pc.u(residual.words()))
	b.hz.reads = append(b.hz.reads, residual.span)
	b.hz.writes = append(b.hz.writes, residual.span)
	b.noteWrite(residual.span)
	b.fuse.matmul = nil
	return true
}
