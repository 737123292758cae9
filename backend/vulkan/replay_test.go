package vulkan

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// stepModel is a one-layer transformer-shaped decode step on one backend:
// weights, a KV cache, activations, and the per-token inputs (token ids,
// positions, sequences, cache rows) written before each step.
type stepModel struct {
	b                                 *Backend
	emb, wq, wk, wv, wo, wg, wu, wd   backend.Tensor
	norm, kc, vc                      backend.Tensor
	x, h, q, k, v, att, o, g, u, f    backend.Tensor
	ids, pos, seq, rows               backend.Tensor
	dim, kvw, ffn, ctx, seqs, maxRows int
}

const (
	stepDim, stepHeads, stepKVHeads, stepHD, stepFFN, stepCtx, stepVocab, stepSeqs = 128, 4, 2, 32, 96, 24, 50, 3
)

// newStepModel allocates and fills a stepModel; seed fixes its weights, so
// two backends built with one seed hold the same model.
func newStepModel(t testing.TB, b *Backend, seed uint64) *stepModel {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	m := &stepModel{b: b, dim: stepDim, kvw: stepKVHeads * stepHD, ffn: stepFFN, ctx: stepCtx, seqs: stepSeqs, maxRows: 4}
	alloc := func(typ gguf.Type, rows, cols int) backend.Tensor {
		tt := backend.Tensor{Type: typ, Rows: rows, Cols: cols}
		buf, err := b.Alloc(tt.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		tt.Buf = buf
		return tt
	}
	weight := func(typ gguf.Type, rows, cols int) backend.Tensor {
		w := alloc(typ, rows, cols)
		raw := make([]byte, w.Bytes())
		rb := typ.RowBytes(cols)
		for r := range rows {
			xs := make([]float32, cols)
			for i := range xs {
				xs[i] = float32(rng.NormFloat64()) * 0.5
			}
			kernels.QuantizeRow(typ, raw[r*rb:(r+1)*rb], xs)
		}
		if err := b.Write(w, raw); err != nil {
			t.Fatal(err)
		}
		return w
	}
	m.emb = weight(gguf.TypeQ8_0, stepVocab, m.dim)
	m.wq, m.wk, m.wv = weight(gguf.TypeQ4_0, m.dim, m.dim), weight(gguf.TypeQ4_0, m.kvw, m.dim), weight(gguf.TypeQ4_0, m.kvw, m.dim)
	m.wo, m.wg, m.wu, m.wd = weight(gguf.TypeQ8_0, m.dim, m.dim), weight(gguf.TypeQ4_1, m.ffn, m.dim), weight(gguf.TypeQ5_0, m.ffn, m.dim), weight(gguf.TypeF16, m.dim, m.ffn)
	m.norm = weight(gguf.TypeF32, 1, m.dim)
	m.kc, m.vc = alloc(gguf.TypeF16, m.seqs*m.ctx, m.kvw), alloc(gguf.TypeF16, m.seqs*m.ctx, m.kvw)
	for _, c := range []backend.Tensor{m.kc, m.vc} {
		if err := b.Write(c, make([]byte, c.Bytes())); err != nil {
			t.Fatal(err)
		}
	}
	n := m.maxRows
	m.x, m.h, m.q, m.att, m.o, m.f = alloc(gguf.TypeF32, n, m.dim), alloc(gguf.TypeF32, n, m.dim), alloc(gguf.TypeF32, n, m.dim),
		alloc(gguf.TypeF32, n, m.dim), alloc(gguf.TypeF32, n, m.dim), alloc(gguf.TypeF32, n, m.dim)
	m.k, m.v = alloc(gguf.TypeF32, n, m.kvw), alloc(gguf.TypeF32, n, m.kvw)
	m.g, m.u = alloc(gguf.TypeF32, n, m.ffn), alloc(gguf.TypeF32, n, m.ffn)
	m.ids, m.pos, m.seq, m.rows = alloc(gguf.TypeI32, 1, n), alloc(gguf.TypeI32, 1, n), alloc(gguf.TypeI32, 1, n), alloc(gguf.TypeI32, 1, n)
	return m
}

// setInputs writes a step's inputs: token ids at positions of sequences.
func (m *stepModel) setInputs(t testing.TB, ids, pos, seq []int32) {
	t.Helper()
	rows := make([]int32, len(pos))
	for i := range pos {
		rows[i] = seq[i]*int32(m.ctx) + pos[i]
	}
	for _, in := range []struct {
		t    backend.Tensor
		vals []int32
	}{{m.ids, ids}, {m.pos, pos}, {m.seq, seq}, {m.rows, rows}} {
		if err := m.b.Write(in.t.Head(len(in.vals)), i32bytes(in.vals)); err != nil {
			t.Fatal(err)
		}
	}
}

// forward issues the ops of one step of n tokens.
func (m *stepModel) forward(n int) {
	b := m.b
	x, h, q, k, v, att, o, g, u, f := m.x.Slice(0, n), m.h.Slice(0, n), m.q.Slice(0, n), m.k.Slice(0, n), m.v.Slice(0, n),
		m.att.Slice(0, n), m.o.Slice(0, n), m.g.Slice(0, n), m.u.Slice(0, n), m.f.Slice(0, n)
	pos, seq, rows := m.pos.Head(n), m.seq.Head(n), m.rows.Head(n)
	rope := backend.RoPE{Mode: backend.RoPENormal, HeadDim: stepHD, Dims: stepHD, FreqBase: 10000, FreqScale: 1}
	ap := backend.Attention{Heads: stepHeads, KVHeads: stepKVHeads, HeadDim: stepHD, Context: m.ctx, Scale: float32(1 / math.Sqrt(stepHD))}
	b.GetRows(x, m.emb, m.ids.Head(n))
	b.RMSNorm(h, x, m.norm, 1e-5)
	b.MatMul(q, m.wq, h)
	b.MatMul(k, m.wk, h)
	b.MatMul(v, m.wv, h)
	b.RoPE(q, pos, rope)
	b.RoPE(k, pos, rope)
	b.KVWrite(m.kc, k, rows)
	b.KVWrite(m.vc, v, rows)
	b.Attend(att, q, m.kc, m.vc, pos, seq, ap)
	b.MatMul(o, m.wo, att)
	b.Add(x, x, o)
	b.RMSNorm(h, x, m.norm, 1e-5)
	b.MatMul(g, m.wg, h)
	b.MatMul(u, m.wu, h)
	b.SwiGLU(g, g, u)
	b.MatMul(f, m.wd, g)
	b.Add(x, x, f)
}

func (m *stepModel) read(t *testing.T, tt backend.Tensor) []byte {
	t.Helper()
	out := make([]byte, tt.Bytes())
	if err := m.b.Read(tt, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// A replayed step computes what the same ops recorded afresh compute, bit
// for bit, token after token and across batch shapes, while the ops are
// issued (recorded by the host) only once per shape.
func TestReplayMatchesFreshRecording(t *testing.T) {
	fresh, err := NewWithOptions(-1, Options{NoReplay: true})
	if err != nil {
		t.Fatalf("Vulkan backend unavailable: %v", err)
	}
	defer fresh.Close()
	replayed, err := NewWithOptions(-1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer replayed.Close()
	ms := []*stepModel{newStepModel(t, fresh, 3), newStepModel(t, replayed, 3)}
	recorded := map[int]int{} // steps recorded by the replaying backend, by batch size

	// Three sequences decode side by side, then one alone, then a pair:
	// shapes 3, 1 and 2, each replayed many times, interleaved.
	rng := rand.New(rand.NewPCG(9, 9))
	next := [stepSeqs]int32{}
	for step := range 18 {
		n := []int{3, 3, 1, 3, 2, 1}[step%6]
		var ids, pos, seq []int32
		for i := range n {
			s := int32((step + i) % stepSeqs)
			ids, pos, seq = append(ids, int32(rng.IntN(stepVocab))), append(pos, next[s]), append(seq, s)
			next[s]++
		}
		var outs [2][]byte
		for i, m := range ms {
			m.setInputs(t, ids, pos, seq)
			m.b.Replay(n, func() {
				if m.b == replayed {
					recorded[n]++
				}
				m.forward(n)
			})
			outs[i] = m.read(t, m.x.Slice(0, n))
		}
		if !bytes.Equal(outs[0], outs[1]) {
			t.Fatalf("step %d (%d tokens): replayed output differs from a fresh recording", step, n)
		}
		if bad := floats(outs[1]); math.IsNaN(float64(bad[0])) {
			t.Fatalf("step %d: NaN output", step)
		}
	}
	if !bytes.Equal(ms[0].read(t, ms[0].kc), ms[1].read(t, ms[1].kc)) || !bytes.Equal(ms[0].read(t, ms[0].vc), ms[1].read(t, ms[1].vc)) {
		t.Fatal("KV caches differ between fresh and replayed steps")
	}
	for n, c := range recorded {
		if c != 1 {
			t.Errorf("a step of %d tokens was recorded %d times, want once", n, c)
		}
	}
	if fc, rc := fresh.Counters(), replayed.Counters(); fc.Dispatches != rc.Dispatches || fc.Barriers != rc.Barriers {
		t.Errorf("counters: fresh %d dispatches, %d barriers; replayed %d, %d", fc.Dispatches, fc.Barriers, rc.Dispatches, rc.Barriers)
	}
}

// A step that writes or reads is not kept: it runs afresh each time, right.
// Releasing device memory makes kept steps stale: they are recorded again.
func TestReplayFallsBack(t *testing.T) {
	b, err := NewWithOptions(-1, Options{})
	if err != nil {
		t.Fatalf("Vulkan backend unavailable: %v", err)
	}
	defer b.Close()
	m := newStepModel(t, b, 4)
	m.setInputs(t, []int32{1}, []int32{0}, []int32{0})
	calls := 0
	for range 4 {
		b.Replay("reads", func() {
			calls++
			m.forward(1)
			m.read(t, m.x.Slice(0, 1))
		})
	}
	if calls != 4 {
		t.Fatalf("a step that reads ran %d times in 4, want every time", calls)
	}
	calls = 0
	for i := range 4 {
		if i == 2 {
			buf, err := b.Alloc(1024)
			if err != nil {
				t.Fatal(err)
			}
			b.Free(buf)
		}
		b.Replay("plain", func() { calls++; m.forward(1) })
		m.read(t, m.x.Slice(0, 1))
	}
	if calls != 2 {
		t.Fatalf("a step recorded %d times in 4 with memory released once, want 2", calls)
	}
}
