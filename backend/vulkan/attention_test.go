package vulkan

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// attnCase is one Attend configuration over random caches.
type attnCase struct {
	typ                gguf.Type
	heads, kvHeads, hd int
	context            int
	window             int
	softCap            float32
	sinks              bool
	positions, seqs    []int32
}

func (c attnCase) String() string {
	return fmt.Sprintf("%v %d/%d heads of %d, context %d, window %d, cap %v, sinks %v",
		c.typ, c.heads, c.kvHeads, c.hd, c.context, c.window, c.softCap, c.sinks)
}

func (c attnCase) params() backend.Attention {
	return backend.Attention{Heads: c.heads, KVHeads: c.kvHeads, HeadDim: c.hd, Context: c.context,
		Scale: float32(1 / math.Sqrt(float64(c.hd))), SoftCap: c.softCap, Window: c.window}
}

// Attend agrees with the CPU within 1e-5 (‖gpu−cpu‖/‖cpu‖) on random
// caches of every type, at sequence lengths of 1, around the split (256,
// 257, 513) and past 1000, GQA ratios 1, 4 and 8, windows, caps and sinks,
// the output poisoned first. The GPU computes in F32 as the CPU does, but
// with its own exp, tanh and order of sums (splits, tiles, trees): errors
// of a few ulps of each sum, far below 1e-5. With an F16 cache the CPU
// rounds its accumulator to F16 after every key (llama.cpp's flash
// attention) and the GPU keeps F32, so the reference is the CPU over the
// same values in an F32 cache, the query rounded to F16 as both do; beside
// it, the CPU's own F16 path agrees within 3e-3 (a few F16 roundings).
func TestAttendMatchesCPU(t *testing.T) {
	e := newEnv(t, Options{})
	positions := []int32{0, 255, 256, 1, 512, 1036, 1099, 700, 299}
	seqs := []int32{0, 1, 0, 1, 1, 0, 1, 0, 1}
	var cases []attnCase
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0} {
		for _, ratio := range []int{1, 4, 8} {
			cases = append(cases, attnCase{typ: typ, heads: 2 * ratio, kvHeads: 2, hd: 64})
		}
		cases = append(cases,
			attnCase{typ: typ, heads: 12, kvHeads: 1, hd: 128, window: 300}, // 12 heads: groups of 6
			attnCase{typ: typ, heads: 4, kvHeads: 2, hd: 96, softCap: 30},   // 96 dims: 2 a thread
			attnCase{typ: typ, heads: 8, kvHeads: 2, hd: 64, sinks: true, window: 257},
			attnCase{typ: typ, heads: 32, kvHeads: 2, hd: 32, window: 2000}) // groups of 8, twice
		if typ == gguf.TypeF32 || typ == gguf.TypeF16 {
			cases = append(cases, attnCase{typ: typ, heads: 6, kvHeads: 3, hd: 40, softCap: 2})
		} else {
			cases = append(cases, attnCase{typ: typ, heads: 8, kvHeads: 4, hd: 8}) // heads within a block
		}
	}
	for _, c := range cases {
		c.context, c.positions, c.seqs = 1100, positions, seqs
		e.attendVsCPU(c)
	}
}

func (e *env) attendVsCPU(c attnCase) {
	e.t.Helper()
	p := c.params()
	kvw := c.kvHeads * c.hd
	k, v := e.rawWeight(c.typ, 2*c.context, kvw), e.rawWeight(c.typ, 2*c.context, kvw)
	n := len(c.positions)
	pos, seq := e.i32(c.positions), e.i32(c.seqs)
	q := e.f32(n, c.heads*c.hd, 1)
	dst := e.alloc(gguf.TypeF32, n, c.heads*c.hd)
	var sinks pair
	if c.sinks {
		sinks = e.f32(1, c.heads, 2)
		p.Sinks = sinks.g
	}
	e.poison(dst)
	e.vk.Attend(dst.g, q.g, k.g, v.g, pos.g, seq.g, p)
	p.Sinks = sinks.c
	e.cpu.Attend(dst.c, q.c, k.c, v.c, pos.c, seq.c, p)
	got := e.check(c.String(), dst, attendTol(c.typ))
	if testing.Verbose() {
		_, ref := e.read(dst)
		e.t.Logf("%v: relative error %.3g", c, relErr(got, floats(ref)))
	}
}

// A sequence's attention is the same bits alone, beside other sequences, in
// a larger or smaller batch, and with its prompt in chunks, with subgroup
// reductions and without, on every cache type: the arithmetic of a row
// depends on its position only. Here sequence 0 has 300 positions (two
// splits) and a query per position; it is attended whole, in chunks of
// 1, 99, 157 and 43 rows, one row at a time from the end, interleaved with
// sequence 1's rows, and with the partials scratch so small that the batch
// goes in several dispatches.
func TestAttendBatchInvariant(t *testing.T) {
	for _, o := range []Options{{}, {NoSubgroups: true}} {
		e := newEnv(t, o)
		types := kvTypes
		if o.NoSubgroups {
			types = []gguf.Type{gguf.TypeF16, gguf.TypeQ8_0}
		}
		for _, typ := range types {
			// 4 query heads a KV head: a workgroup takes 2 rows of a prompt
			// at once; 1: 8 rows (attention.go's rowsPer)
			for _, kvHeads := range []int{2, 8} {
				c := attnCase{typ: typ, heads: 8, kvHeads: kvHeads, hd: 64, context: 350, softCap: 20}
				for _, window := range []int{0, 100} {
					c.window = window
					e.attendInvariant(c, fmt.Sprintf("%v subgroups off %v", c, o.NoSubgroups))
				}
			}
		}
	}
}

func (e *env) attendInvariant(c attnCase, what string) {
	e.t.Helper()
	const n = 300
	p := c.params()
	width := c.heads * c.hd
	k, v := e.rawWeight(c.typ, 2*c.context, c.kvHeads*c.hd), e.rawWeight(c.typ, 2*c.context, c.kvHeads*c.hd)
	qs := e.randn(n*width, 1)
	// attend returns the outputs of the rows (position, sequence) with the
	// queries of sequence 0 at those positions (random ones for sequence 1).
	attend := func(pos, seq []int32) [][]float32 {
		rows := make([]float32, 0, len(pos)*width)
		for i := range pos {
			if seq[i] == 0 {
				rows = append(rows, qs[int(pos[i])*width:(int(pos[i])+1)*width]...)
			} else {
				rows = append(rows, e.randn(width, 1)...)
			}
		}
		q := e.alloc(gguf.TypeF32, len(pos), width)
		e.write(q, f32bytes(rows))
		pv, sv := e.i32(pos), e.i32(seq)
		dst := e.alloc(gguf.TypeF32, len(pos), width)
		e.poison(dst)
		e.vk.Attend(dst.g, q.g, k.g, v.g, pv.g, sv.g, p)
		raw := make([]byte, dst.g.Bytes())
		if err := e.vk.Read(dst.g, raw); err != nil {
			e.t.Fatal(err)
		}
		all := floats(raw)
		out := make([][]float32, len(pos))
		for i := range out {
			out[i] = all[i*width : (i+1)*width]
		}
		return out
	}
	span := func(lo, hi int) (pos, seq []int32) {
		for i := lo; i < hi; i++ {
			pos, seq = append(pos, int32(i)), append(seq, 0)
		}
		return pos, seq
	}
	whole := attend(span(0, n))
	same := func(how string, pos, seq []int32, got [][]float32) {
		for i := range pos {
			if seq[i] != 0 {
				continue
			}
			if !bytes.Equal(f32bytes(got[i]), f32bytes(whole[pos[i]])) {
				e.t.Errorf("%s: %s: position %d differs from the whole prompt's", what, how, pos[i])
				return
			}
		}
	}
	for _, cut := range [][2]int{{0, 1}, {1, 100}, {100, 257}, {257, 300}} {
		pos, seq := span(cut[0], cut[1])
		same(fmt.Sprintf("chunk %v", cut), pos, seq, attend(pos, seq))
	}
	for i := n - 1; i >= n-3; i-- {
		pos, seq := span(i, i+1)
		same("one row", pos, seq, attend(pos, seq))
	}
	var pos, seq []int32
	for i := 0; i < n; i += 5 {
		pos, seq = append(pos, int32(i), int32(c.context-1-i%50)), append(seq, 0, 1)
	}
	same("beside sequence 1", pos, seq, attend(pos, seq))
	old := attnScratchBytes
	attnScratchBytes = 64 << 10 // a few rows a dispatch
	defer func() { attnScratchBytes = old }()
	wp, ws := span(0, n)
	same("in several dispatches", wp, ws, attend(wp, ws))
}

// attendTol is the tolerance of Attend against the CPU backend on a cache
// of type t: 1e-5 (F32 arithmetic on both, in different orders, with
// different exp), but 3e-3 for F16, where the CPU rounds its accumulator
// to F16 after every key (llama.cpp's flash attention) and the GPU does
// not; TestAttendMatchesCPU checks F16 within 1e-5 of an F32 reference.
func attendTol(t gguf.Type) float64 {
	if t == gguf.TypeF16 {
		return 3e-3
	}
	return 1e-5
}

// Attend is one dispatch, however many splits its rows have: the last of a
// row's split workgroups folds them, no combine pass. Recorded three times
// back to back with nothing read between, rows of one split and of five
// give the same bits each time and agree with the CPU: the folding
// workgroup zeroes its counter for the next dispatch.
func TestAttendFoldsInOneDispatch(t *testing.T) {
	e := newEnv(t, Options{})
	c := attnCase{typ: gguf.TypeF32, heads: 8, kvHeads: 2, hd: 64, context: 1100,
		positions: []int32{3, 1099, 256, 700}, seqs: []int32{0, 1, 0, 1}}
	p := c.params()
	kvw := c.kvHeads * c.hd
	k, v := e.rawWeight(c.typ, 2*c.context, kvw), e.rawWeight(c.typ, 2*c.context, kvw)
	n := len(c.positions)
	pos, seq := e.i32(c.positions), e.i32(c.seqs)
	q := e.f32(n, c.heads*c.hd, 1)
	dsts := make([]pair, 3)
	for i := range dsts {
		dsts[i] = e.alloc(gguf.TypeF32, n, c.heads*c.hd)
		e.poison(dsts[i])
	}
	before := e.vk.Counters().Dispatches
	for _, d := range dsts {
		e.vk.Attend(d.g, q.g, k.g, v.g, pos.g, seq.g, p)
	}
	if got := e.vk.Counters().Dispatches - before; got != int64(len(dsts)) {
		t.Errorf("%d Attends took %d dispatches, want one each", len(dsts), got)
	}
	e.cpu.Attend(dsts[0].c, q.c, k.c, v.c, pos.c, seq.c, p)
	first := e.check(c.String(), dsts[0], attendTol(c.typ))
	for i, d := range dsts[1:] {
		raw := make([]byte, d.g.Bytes())
		if err := e.vk.Read(d.g, raw); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(raw, f32bytes(first)) {
			t.Errorf("Attend number %d differs from the first", i+2)
		}
	}
}
