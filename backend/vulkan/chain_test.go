package vulkan

import (
	"math"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// TestChain runs a small transformer-layer-shaped sequence of dependent ops,
// with only one Read at the end, so the barriers between dispatches (and the
// reuse of quantized activations across matmuls) are what keeps it right.
// Tolerance 1e-4: the per-op differences above, compounded over 12 ops.
func TestChain(t *testing.T) {
	e := newEnv(t, Options{})
	const (
		n, dim, heads, kvHeads, hd, ffn, ctx, vocab = 5, 128, 4, 2, 32, 96, 16, 50
	)
	kvw := kvHeads * hd
	emb := e.weight(gguf.TypeQ8_0, vocab, dim)
	wq := e.weight(gguf.TypeQ4_0, dim, dim)
	wk := e.weight(gguf.TypeQ4_0, kvw, dim)
	wv := e.weight(gguf.TypeQ4_0, kvw, dim)
	wo := e.weight(gguf.TypeQ8_0, dim, dim)
	wg := e.weight(gguf.TypeQ4_1, ffn, dim)
	wu := e.weight(gguf.TypeQ5_0, ffn, dim)
	wd := e.weight(gguf.TypeF16, dim, ffn)
	norm := e.f32(1, dim, 1)
	kc := e.alloc(gguf.TypeF16, ctx, kvw)
	vc := e.alloc(gguf.TypeF16, ctx, kvw)
	e.write(kc, make([]byte, kc.g.Bytes()))
	e.write(vc, make([]byte, vc.g.Bytes()))

	// All activations in one buffer, as an engine would lay them out.
	act := e.alloc(gguf.TypeF32, 1, n*(6*dim+2*kvw+2*ffn))
	off := act.g.Offset
	next := func(cols int) pair {
		p := pair{
			g: backend.Tensor{Buf: act.g.Buf, Offset: off, Type: gguf.TypeF32, Rows: n, Cols: cols},
			c: backend.Tensor{Buf: act.c.Buf, Offset: off, Type: gguf.TypeF32, Rows: n, Cols: cols},
		}
		off += int64(n * cols * 4)
		return p
	}
	x, h, q, k, v, att, o, g, u, f := next(dim), next(dim), next(dim), next(kvw), next(kvw), next(dim), next(dim), next(ffn), next(ffn), next(dim)
	ids := e.i32([]int32{3, 14, 15, 9, 26})
	pos := e.i32([]int32{0, 1, 2, 3, 4})
	seq := e.i32([]int32{0, 0, 0, 0, 0})
	rope := backend.RoPE{Mode: backend.RoPENormal, HeadDim: hd, Dims: hd, FreqBase: 10000, FreqScale: 1}
	ap := backend.Attention{Heads: heads, KVHeads: kvHeads, HeadDim: hd, Context: ctx, Scale: float32(1 / math.Sqrt(hd))}

	for _, be := range []struct {
		b   backend.Backend
		sel func(pair) backend.Tensor
	}{{e.vk, func(p pair) backend.Tensor { return p.g }}, {e.cpu, func(p pair) backend.Tensor { return p.c }}} {
		b, s := be.b, be.sel
		b.GetRows(s(x), s(emb), s(ids))
		b.RMSNorm(s(h), s(x), s(norm), 1e-5)
		b.MatMul(s(q), s(wq), s(h))
		b.MatMul(s(k), s(wk), s(h))
		b.MatMul(s(v), s(wv), s(h))
		b.RoPE(s(q), s(pos), rope)
		b.RoPE(s(k), s(pos), rope)
		b.KVWrite(s(kc), s(k), s(pos))
		b.KVWrite(s(vc), s(v), s(pos))
		b.Attend(s(att), s(q), s(kc), s(vc), s(pos), s(seq), ap)
		b.MatMul(s(o), s(wo), s(att))
		b.Add(s(x), s(x), s(o))
		b.RMSNorm(s(h), s(x), s(norm), 1e-5)
		b.MatMul(s(g), s(wg), s(h))
		b.MatMul(s(u), s(wu), s(h))
		b.SwiGLU(s(g), s(g), s(u))
		b.MatMul(s(f), s(wd), s(g))
		b.Add(s(x), s(x), s(f))
	}
	e.check("chain", x, 1e-4)
}

// TestMemory allocates, writes, computes and frees many times: device memory
// must come back to where it started.
func TestMemory(t *testing.T) {
	e := newEnv(t, Options{})
	w := e.weight(gguf.TypeQ4_0, 64, 64) // brings up staging and scratch
	x := e.f32(2, 64, 1)
	d := e.alloc(gguf.TypeF32, 2, 64)
	e.vk.MatMul(d.g, w.g, x.g)
	e.read(d)
	base, live := e.vk.AllocatedBytes(), e.vk.dev.LiveBuffers()
	for i := 0; i < 50; i++ {
		buf, err := e.vk.Alloc(int64(1+i) << 16)
		if err != nil {
			t.Fatal(err)
		}
		tt := backend.Tensor{Buf: buf, Type: gguf.TypeF32, Rows: 2, Cols: 64}
		e.vk.MatMul(tt, w.g, x.g)
		if err := e.vk.Write(tt.Slice(1, 2), make([]byte, 256)); err != nil {
			t.Fatal(err)
		}
		e.vk.Free(buf)
	}
	if got := e.vk.AllocatedBytes(); got != base || e.vk.dev.LiveBuffers() != live {
		t.Fatalf("device memory grew from %d to %d bytes (%d to %d buffers)", base, got, live, e.vk.dev.LiveBuffers())
	}
	if u := e.vk.dev.HeapUsage(); len(u) > 0 {
		t.Logf("VK_EXT_memory_budget heap usage: %v", u)
	}
}

// TestLargeTransfer writes and reads 20 MiB through the staging arena, into a
// buffer made of 1 MiB allocations (forced), at an odd offset.
func TestLargeTransfer(t *testing.T) {
	e := newEnv(t, Options{MaxAlloc: 1 << 20})
	const n = 20<<20 + 12
	buf, err := e.vk.Alloc(n + 8)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(buf.(*buffer).chunks); got != 21 {
		t.Fatalf("%d allocations, want 21", got)
	}
	tt := backend.Tensor{Buf: buf, Offset: 4, Type: gguf.TypeI8, Rows: 1, Cols: n}
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(e.rng.Uint32())
	}
	if err := e.vk.Write(tt, data); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, n)
	if err := e.vk.Read(tt, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(data) {
		t.Fatal("read back differs")
	}
	e.vk.Free(buf)
}
