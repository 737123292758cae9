package vulkan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// randomBytes fills a tensor with the same random bytes on both backends
// (a cache's untouched rows must stay as they were).
func (e *env) randomBytes(p pair) {
	b := make([]byte, p.g.Bytes())
	for i := range b {
		b[i] = byte(e.rng.IntN(256))
	}
	e.write(p, b)
}

// KVWrite quantizes to Q8_0 and Q4_0 as the CPU does (ggml's reference
// quantizers): bit-identical caches, untouched rows and the bytes that
// neighbouring blocks share a word with included. Rows of 1, 3 and 5 blocks
// (Q8_0 rows of 34, 102 and 170 bytes: blocks and rows off word boundaries),
// one block of zeros (scale 0) and one of a single negative extreme.
func TestKVWriteQuantized(t *testing.T) {
	e := newEnv(t, Options{})
	for _, typ := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ4_0} {
		for _, cols := range []int{32, 96, 160} {
			cache := e.alloc(typ, 13, cols)
			e.randomBytes(cache)
			vals := e.randn(5*cols, 2)
			clear(vals[cols : cols+32]) // a zero block
			for j := 2 * cols; j < 2*cols+32; j++ {
				vals[j] = 0.25
			}
			vals[2*cols+7] = -9 // the extreme is negative: Q4_0's d > 0
			src := e.alloc(gguf.TypeF32, 5, cols)
			e.write(src, f32bytes(vals))
			rows := e.i32([]int32{12, 0, 5, 6, 1})
			e.vk.KVWrite(cache.g, src.g, rows.g)
			e.cpu.KVWrite(cache.c, src.c, rows.c)
			got, want := e.read(cache)
			if string(got) != string(want) {
				i := 0
				for got[i] == want[i] {
					i++
				}
				t.Errorf("KVWrite %v, %d columns: caches differ first at byte %d (row %d): %#x, want %#x",
					typ, cols, i, i/typ.RowBytes(cols), got[i], want[i])
			}
		}
	}
}

// attendCase is one attention shape over a cache of type typ.
type attendCase struct {
	typ         gguf.Type
	heads, kvh  int
	hd          int
	window      int
	softCap     float32
	sinks       bool
	context     int
	positions   []int32
	sequences   []int32
	description string
}

// run fills a cache through KVWrite (so the Vulkan cache is its own
// quantization, the CPU's its), attends on both backends and compares.
func (e *env) runAttendCase(c attendCase, tol float64) {
	e.t.Helper()
	p := backend.Attention{Heads: c.heads, KVHeads: c.kvh, HeadDim: c.hd, Context: c.context,
		Scale: 0.3, SoftCap: c.softCap, Window: c.window}
	seqs := 2
	kvw := c.kvh * c.hd
	rows := seqs * c.context
	k, v := e.alloc(c.typ, rows, kvw), e.alloc(c.typ, rows, kvw)
	e.randomBytes(k) // rows past the positions attended are never read; poison them all the same
	e.randomBytes(v)
	const batch = 16 // rows a KVWrite: a batch's values fit one small binding
	for lo := 0; lo < rows; lo += batch {
		idx := make([]int32, min(batch, rows-lo))
		for i := range idx {
			idx[i] = int32(lo + i)
		}
		ids := e.i32(idx)
		for _, cache := range []pair{k, v} {
			src := e.f32(len(idx), kvw, 1)
			e.vk.KVWrite(cache.g, src.g, ids.g)
			e.cpu.KVWrite(cache.c, src.c, ids.c)
		}
	}
	if gk, ck := e.read(k); string(gk) != string(ck) {
		e.t.Fatalf("%s: the caches differ after KVWrite", c.description)
	}
	if c.sinks {
		p.Sinks = e.f32(1, c.heads, 1).g
	}
	n := len(c.positions)
	pos, seq := e.i32(c.positions), e.i32(c.sequences)
	q := e.f32(n, c.heads*c.hd, 1)
	dst := e.alloc(gguf.TypeF32, n, c.heads*c.hd)
	e.poison(dst)
	e.vk.Attend(dst.g, q.g, k.g, v.g, pos.g, seq.g, p)
	pc := p
	if c.sinks {
		pc.Sinks = e.sinksOnCPU(p.Sinks, c.heads)
	}
	e.cpu.Attend(dst.c, q.c, k.c, v.c, pos.c, seq.c, pc)
	e.check(c.description, dst, tol)
}

// sinksOnCPU copies the Vulkan sinks tensor to the CPU backend.
func (e *env) sinksOnCPU(s backend.Tensor, heads int) backend.Tensor {
	b := make([]byte, s.Bytes())
	if err := e.vk.Read(s, b); err != nil {
		e.t.Fatal(err)
	}
	t := backend.Tensor{Type: gguf.TypeF32, Rows: 1, Cols: heads}
	buf, err := e.cpu.Alloc(t.Bytes())
	if err != nil {
		e.t.Fatal(err)
	}
	t.Buf = buf
	if err := e.cpu.Write(t, b); err != nil {
		e.t.Fatal(err)
	}
	return t
}

// Attend over Q8_0 and Q4_0 caches agrees with the CPU within 1e-5. Heads
// of whole blocks without sinks quantize the query to Q8_0 and take integer
// block dots, as the CPU does; heads smaller than a block (stories260K's 8)
// and attention with sinks use the dequantized values.
func TestAttendQuantized(t *testing.T) {
	e := newEnv(t, Options{})
	positions, sequences := []int32{0, 1, 63, 64, 99, 5, 70}, []int32{0, 1, 0, 1, 1, 0, 1}
	for _, typ := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ4_0} {
		for _, c := range []struct {
			attendCase
			tol float64
		}{
			{attendCase{heads: 6, kvh: 2, hd: 64}, 1e-5},
			{attendCase{heads: 3, kvh: 3, hd: 96, window: 17}, 1e-5},
			{attendCase{heads: 4, kvh: 2, hd: 32, softCap: 2}, 1e-5},
			{attendCase{heads: 8, kvh: 4, hd: 8}, 1e-5},
			{attendCase{heads: 4, kvh: 2, hd: 64, sinks: true}, 1e-5},
		} {
			c.typ, c.context, c.positions, c.sequences = typ, 100, positions, sequences
			c.description = fmt.Sprintf("Attend %v %d/%d heads of %d, window %d, cap %v, sinks %v", typ, c.heads, c.kvh, c.hd, c.window, c.softCap, c.sinks)
			e.runAttendCase(c.attendCase, c.tol)
		}
	}
}

// A cache larger than one binding is read through several: with bindings
// lowered to 8 KiB, 2 sequences of 150 positions of 2 KV heads of 32 need 3
// to 5 windows (F16 and F32 rows of 128 and 256 bytes, Q8_0 of 68, Q4_0 of
// 36). KVWrite gives the CPU's bits and Attend agrees within attendTol, as
// unsplit.
func TestKVCacheSplitOverBindings(t *testing.T) {
	e := newEnv(t, Options{MaxBindRange: 8 << 10})
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0} {
		c := attendCase{typ: typ, heads: 4, kvh: 2, hd: 32, context: 150,
			positions: []int32{0, 149, 63, 120, 7}, sequences: []int32{0, 1, 1, 0, 1}}
		if typ == gguf.TypeF32 {
			// 120 rows of 256 bytes: 4 windows
			c.context, c.positions = 60, []int32{0, 59, 33, 50, 7}
		}
		per := int(e.vk.kvRowsPerWindow(int64(typ.RowBytes(c.kvh * c.hd))))
		windows := (2*c.context + per - 1) / per
		if windows < 2 {
			t.Fatalf("%v: the cache fits %d binding", typ, windows)
		}
		c.description = fmt.Sprintf("split %v cache (%d windows)", typ, windows)
		e.runAttendCase(c, attendTol(typ))
	}
}

// A cache that needs more bindings than attention reads is refused with the
// numbers, not misread.
func TestKVCacheTooManyBindings(t *testing.T) {
	e := newEnv(t, Options{MaxBindRange: 4 << 10})
	cache := e.alloc(gguf.TypeF32, 600, 64) // 150 KiB: 40 windows of 4 KiB
	src, rows := e.f32(1, 64, 1), e.i32([]int32{0})
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), "bindings") {
			t.Fatalf("KVWrite on a cache of 40 bindings: %v", r)
		}
	}()
	e.vk.KVWrite(cache.g, src.g, rows.g)
}
