package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// attendFixture is an F16 (or F32) KV cache of ctx rows filled with random
// keys and values, and random queries, on backend b.
type attendFixture struct {
	p      backend.Attention
	kc, vc backend.Tensor
	q      backend.Tensor
}

func newAttendFixture(tb testing.TB, b *Backend, cacheType gguf.Type, p backend.Attention, rows int) attendFixture {
	tb.Helper()
	rng := rand.New(rand.NewPCG(21, 22))
	alloc := func(typ gguf.Type, r, c int) backend.Tensor {
		t := backend.Tensor{Type: typ, Rows: r, Cols: c}
		buf, err := b.Alloc(t.Bytes())
		if err != nil {
			tb.Fatal(err)
		}
		t.Buf = buf
		return t
	}
	fill := func(t backend.Tensor) {
		for i, v := 0, f32s(t); i < len(v); i++ {
			v[i] = float32(rng.NormFloat64())
		}
	}
	kvw := p.KVHeads * p.HeadDim
	f := attendFixture{p: p, kc: alloc(cacheType, p.Context, kvw), vc: alloc(cacheType, p.Context, kvw),
		q: alloc(gguf.TypeF32, rows, p.Heads*p.HeadDim)}
	src := alloc(gguf.TypeF32, p.Context, kvw)
	idx := alloc(gguf.TypeI32, 1, p.Context)
	for i, v := 0, i32s(idx); i < len(v); i++ {
		v[i] = int32(i)
	}
	fill(src)
	b.KVWrite(f.kc, src, idx)
	fill(src)
	b.KVWrite(f.vc, src, idx)
	fill(f.q)
	return f
}

// A row's flash attention (F16 cache) is the same bits alone and in a batch
// with other positions, whatever the thread count splits.
func TestAttendF16IsBatchInvariant(t *testing.T) {
	for _, threads := range []int{1, 3} {
		b := New(threads)
		p := backend.Attention{Heads: 6, KVHeads: 2, HeadDim: 64, Context: 80, Scale: 0.125}
		positions := []int32{79, 0, 64, 5, 63}
		f := newAttendFixture(t, b, gguf.TypeF16, p, len(positions))
		all := poisoned(t, b, len(positions), p.Heads*p.HeadDim)
		b.Attend(all, f.q, f.kc, f.vc, ints(t, b, positions...), ints(t, b, 0, 0, 0, 0, 0), p)
		for i, pos := range positions {
			one := poisoned(t, b, 1, p.Heads*p.HeadDim)
			b.Attend(one, f.q.Slice(i, i+1), f.kc, f.vc, ints(t, b, pos), ints(t, b, 0), p)
			got, want := f32s(one), f32s(all.Slice(i, i+1))
			for d := range want {
				if math.Float32bits(got[d]) != math.Float32bits(want[d]) {
					t.Fatalf("threads %d, position %d, value %d: alone %v, in the batch %v", threads, pos, d, got[d], want[d])
				}
			}
		}
		b.Close()
	}
}

func benchAttend(b *testing.B, cacheType gguf.Type, rows, ctx int) {
	benchAttendShape(b, backend.Attention{Heads: 12, KVHeads: 12, HeadDim: 64, Context: ctx, Scale: 0.125}, cacheType, rows)
}

func benchAttendShape(b *testing.B, p backend.Attention, cacheType gguf.Type, rows int) {
	ctx := p.Context
	be := New(0)
	defer be.Close()
	f := newAttendFixture(b, be, cacheType, p, rows)
	pos, seq := make([]int32, rows), make([]int32, rows)
	for i := range pos {
		pos[i] = int32(ctx - rows + i)
	}
	posT, seqT := i32Tensor(b, be, pos), i32Tensor(b, be, seq)
	dst := backend.Tensor{Type: gguf.TypeF32, Rows: rows, Cols: p.Heads * p.HeadDim}
	buf, err := be.Alloc(dst.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	dst.Buf = buf
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		be.Attend(dst, f.q, f.kc, f.vc, posT, seqT, p)
	}
}

func i32Tensor(tb testing.TB, be *Backend, vals []int32) backend.Tensor {
	t := backend.Tensor{Type: gguf.TypeI32, Rows: 1, Cols: len(vals)}
	buf, err := be.Alloc(t.Bytes())
	if err != nil {
		tb.Fatal(err)
	}
	t.Buf = buf
	copy(i32s(t), vals)
	return t
}

// The 110M shape (12 heads of 64): one token decoded at position 2047, and 64
// prompt tokens ending there.
func BenchmarkAttendF16Decode(b *testing.B)  { benchAttend(b, gguf.TypeF16, 1, 2048) }
func BenchmarkAttendF16Prefill(b *testing.B) { benchAttend(b, gguf.TypeF16, 64, 2048) }
func BenchmarkAttendF32Decode(b *testing.B)  { benchAttend(b, gguf.TypeF32, 1, 2048) }

// TinyLlama's shape (32 query heads of 64 sharing 4 KV heads): one token
// decoded after a context of 4096.
func BenchmarkAttendF16DecodeGQA4096(b *testing.B) {
	benchAttendShape(b, backend.Attention{Heads: 32, KVHeads: 4, HeadDim: 64, Context: 4097, Scale: 0.125}, gguf.TypeF16, 1)
}
