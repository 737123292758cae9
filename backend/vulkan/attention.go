package vulkan

import (
	"fmt"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Attention split over the sequence (shaders/attention.glsl), in one
// dispatch. Each query row's visible positions are cut into splits of
// attnSplit, counted from the first position it sees, and a workgroup
// computes one split for all the query heads of a KV head's group at once
// (they share the K and V loads): an online softmax's maximum, sum and
// unnormalized output. A row of one split writes its output at once; a row
// of several writes each split's to a scratch of partials, and the
// workgroup that finishes the row's group last (a counter per row and group
// says which) folds them in split order and divides. Decode thus spreads a
// long context over many workgroups with no combine pass and no extra stage,
// and prefill keeps the flash structure (tiles of keys, an online softmax,
// no score matrix).
//
// Parity: the GPU does not match the CPU bit for bit (native exp, fma, tanh;
// subgroup reductions), but every output's arithmetic depends only on its own
// row's position and sequence: the split length is fixed, the splits a row
// has are its own and are folded in order whichever workgroup folds them,
// and the batch only decides how many workgroups run. So a sequence's
// attention is the same bits alone, beside others, or with its prompt in
// chunks.
//
// In a batch of several rows a workgroup may take rowsPer rows at once (a
// slot per row and head, attnMaxGroup slots), each K and V load serving all
// of them: the shader checks that they are rows of one sequence seeing the
// same first position (a prompt's), else each row keeps its own workgroup.
// A slot's arithmetic is that of its row alone, so this changes no bits;
// decode (one row) takes the plain pipeline, which compiles to less code.

// attnSplit is the positions per split (SPLIT in the shaders).
const attnSplit = 256

// attnMaxGroup is the most query heads one workgroup computes (GMAX).
const attnMaxGroup = 8

// attnCounters is how many row-and-group counters the fused norm's counter
// buffer holds for Attend (newCounters); a larger batch of query rows goes
// in several dispatches.
const attnCounters = 1 << 16

// attnScratchBytes bounds the partials of one dispatch; a larger batch of
// query rows goes in several.
var attnScratchBytes int64 = 16 << 20 // a var so that tests can make it small

// quantFlash reports whether Attend quantizes the query for a quantized
// cache, as the CPU backend's quantFlash: heads of whole blocks, no sinks.
func quantFlash(t gguf.Type, hd int, sinks bool) bool {
	return (t == gguf.TypeQ8_0 || t == gguf.TypeQ4_0) && hd%32 == 0 && !sinks
}

// attnHeadsPerGroup is how many of a KV head's g query heads one workgroup
// takes: the largest divisor of g up to attnMaxGroup.
func attnHeadsPerGroup(g int) int {
	for n := min(g, attnMaxGroup); n > 1; n-- {
		if g%n == 0 {
			return n
		}
	}
	return 1
}

// attnScratch returns the partials scratch with at least size bytes.
func (b *Backend) attnScratch(size int64) view {
	if b.attnPart == nil || b.attnPart.size < size {
		if b.attnPart != nil {
			b.Free(b.attnPart)
			b.memoryReleased()
		}
		buf, err := b.Alloc(max(size, 2*sizeOf(b.attnPart)))
		if err != nil {
			panic(fmt.Sprintf("vulkan: Attend: scratch of %d bytes: %v", size, err))
		}
		b.attnPart = buf.(*buffer)
	}
	return b.bindRange(backend.Tensor{Buf: b.attnPart, Type: gguf.TypeF32, Rows: 1, Cols: int(size / 4)}, 0, size)
}

// Attend computes causal attention over the KV cache, over the last p.Window
// positions when that is set, with scores soft-capped when p.SoftCap is.
func (b *Backend) Attend(dst, q, kCache, vCache, pos, seq backend.Tensor, p backend.Attention) {
	mustType("Attend", dst, gguf.TypeF32)
	mustType("Attend", q, gguf.TypeF32)
	mustType("Attend", kCache, kvTypes...)
	mustType("Attend", vCache, kCache.Type)
	mustType("Attend", pos, gguf.TypeI32)
	mustType("Attend", seq, gguf.TypeI32)
	width, kvWidth := p.Heads*p.HeadDim, p.KVHeads*p.HeadDim
	if pos.Cols != q.Rows || seq.Cols != q.Rows || q.Cols != width || kCache.Cols != kvWidth ||
		vCache.Cols != kvWidth || kCache.Rows != vCache.Rows || p.KVHeads == 0 || p.Heads%p.KVHeads != 0 ||
		p.HeadDim <= 0 || p.HeadDim > 512 || p.Context <= 0 ||
		(kCache.Type == gguf.TypeF16 && kvWidth%2 != 0) || kvWidth%kCache.Type.BlockSize() != 0 {
		panic(fmt.Sprintf("vulkan: Attend: q %v, k %v, v %v, pos %v, %+v", q, kCache, vCache, pos, p))
	}
	mustShape("Attend", dst, q.Rows, width)
	if q.Rows == 0 {
		return
	}
	kw, vw := b.kvWindows("Attend", kCache), b.kvWindows("Attend", vCache)
	if kw.rowsPerWin != vw.rowsPerWin || len(kw.views) != len(vw.views) {
		panic(fmt.Sprintf("vulkan: Attend: K %v and V %v split differently", kCache, vCache))
	}
	hasSinks := p.Sinks.Buf != nil
	if hasSinks {
		mustType("Attend sinks", p.Sinks, gguf.TypeF32)
		mustShape("Attend sinks", p.Sinks, 1, p.Heads)
	}
	window := min(max(p.Window, 0), p.Context) // a window of Context or more is all of it
	visible := p.Context
	if window > 0 {
		visible = window
	}
	splits := (visible + attnSplit - 1) / attnSplit // the most any row has
	group := attnHeadsPerGroup(p.Heads / p.KVHeads)
	if p.Heads/group*splits > 65535 { // so a row's counters fit attnCounters too
		panic(fmt.Sprintf("vulkan: Attend: %d heads over %d splits of %d positions: too many workgroups", p.Heads, splits, attnSplit))
	}
	rowBytes := int64(p.Heads) * int64(splits) * int64(p.HeadDim+2) * 4
	groups := p.Heads / group                        // workgroups (and counters) per row and split
	counters := min(attnCounters, int(b.maxRange/4)) // a binding's worth
	if groups > counters {
		panic(fmt.Sprintf("vulkan: Attend: %d groups of heads a row: more than the %d counters a binding holds", groups, counters))
	}
	perDispatch := int(min(max(attnScratchBytes/rowBytes, 1), 65535, int64(counters/groups)))
	quantQ := uint32(0)
	if quantFlash(kCache.Type, p.HeadDim, hasSinks) {
		quantQ = 1
	}
	rowsPer := 1 // query rows a workgroup takes (a prompt's rows share their K and V loads)
	if q.Rows > 1 {
		rowsPer = attnMaxGroup / group
	}
	nwin := maxKVWindows // the general shader, unless one window holds each cache
	if len(kw.views) == 1 {
		nwin = 1
	}
	attend := b.pipeline(b.attention, uint32(kCache.Type), quantQ, uint32(p.HeadDim), uint32(group), uint32(nwin), uint32(rowsPer))
	for lo := 0; lo < q.Rows; lo += perDispatch {
		n := min(perDispatch, q.Rows-lo)
		qv := b.bindRange(q, int64(lo)*q.RowBytes(), int64(n)*q.RowBytes())
		dv := b.bindRange(dst, int64(lo)*dst.RowBytes(), int64(n)*dst.RowBytes())
		pv := b.bindRange(pos, int64(lo)*4, int64(n)*4)
		sv := b.bindRange(seq, int64(lo)*4, int64(n)*4)
		part := b.attnScratch(int64(n) * rowBytes)
		cnt := b.attnCounterView(n * groups)
		sinks, sinkOff := qv, uint32(0) // the sinks (any bound buffer when there are none)
		if hasSinks {
			sinks = b.bind(p.Sinks)
			sinkOff = sinks.words()
		}
		views := []view{qv, pv, sv, part}
		for _, w := range []kvWindows{kw, vw} {
			for i := 0; i < maxKVWindows; i++ {
				views = append(views, w.views[min(i, len(w.views)-1)]) // unused windows repeat the last
			}
		}
		views = append(views, dv, sinks, cnt)
		pc := push{}.u(qv.words(), uint32(kw.views[0].skip), uint32(vw.views[0].skip), pv.words(), sv.words(), part.words(),
			uint32(p.Heads), uint32(p.KVHeads), uint32(p.Context), uint32(kCache.Rows)).
			f(p.Scale).f(max(p.SoftCap, 0)).
			u(uint32(window), uint32(kw.rowsPerWin), uint32(splits), dv.words(), sinkOff, boolWord(hasSinks), cnt.words(), uint32(n))
		b.dispatch(attend, views, []int{3, 4 + 2*maxKVWindows, 6 + 2*maxKVWindows}, pc, uint32(groups*splits), uint32(n))
	}
}

func boolWord(v bool) uint32 {
	if v {
		return 1
	}
	return 0
}
