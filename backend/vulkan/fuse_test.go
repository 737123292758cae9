package vulkan

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// fusedChain runs an op chain three ways on fresh copies of its inputs: on
// the Vulkan backend without fusion, with fusion, and on the CPU. Outputs
// are poisoned (NaN) before each run. The fused outputs must equal the
// unfused ones bit for bit (the fused shaders compute the same expressions in
// the same order) and be within each output's tolerance of the CPU's; the
// fused run must take fewer dispatches (the fusion happened).
type fusedChain struct {
	e      *env
	inputs []pair
	data   [][]byte
	outs   []pair
	tols   []float64 // per output; < 0: compare as F16 rows, |tol|
}

func (f *fusedChain) input(p pair, data []byte) pair {
	f.inputs, f.data = append(f.inputs, p), append(f.data, data)
	return p
}

func (f *fusedChain) randomInput(typ gguf.Type, rows, cols int) pair {
	p := f.e.alloc(typ, rows, cols)
	raw := make([]byte, p.g.Bytes())
	if typ == gguf.TypeF32 {
		copy(raw, f32bytes(f.e.randn(rows*cols, 1)))
	} else {
		rb := typ.RowBytes(cols)
		for r := range rows {
			kernels.QuantizeRow(typ, raw[r*rb:(r+1)*rb], f.e.randn(cols, 0.5))
		}
	}
	return f.input(p, raw)
}

func (f *fusedChain) output(p pair, tol float64) pair {
	f.outs, f.tols = append(f.outs, p), append(f.tols, tol)
	return p
}

func (f *fusedChain) reset() {
	for i, p := range f.inputs {
		f.e.write(p, f.data[i])
	}
outs:
	for _, o := range f.outs {
		for _, in := range f.inputs {
			if in == o { // updated in place: starts from its input
				continue outs
			}
		}
		f.e.poison(o)
	}
}

func (f *fusedChain) run(name string, ops func(b backend.Backend, s func(pair) backend.Tensor)) {
	t := f.e.t
	t.Helper()
	gpu := func(p pair) backend.Tensor { return p.g }
	var got [2][][]byte
	var dispatches [2]int64
	for i, noFusion := range []bool{true, false} {
		f.reset()
		f.e.vk.noFusion = noFusion
		before := f.e.vk.Counters().Dispatches
		ops(f.e.vk, gpu)
		dispatches[i] = f.e.vk.Counters().Dispatches - before
		for _, o := range f.outs {
			raw := make([]byte, o.g.Bytes())
			if err := f.e.vk.Read(o.g, raw); err != nil {
				t.Fatal(err)
			}
			got[i] = append(got[i], raw)
		}
	}
	f.e.vk.noFusion = false
	ops(f.e.cpu, func(p pair) backend.Tensor { return p.c })
	if dispatches[1] >= dispatches[0] {
		t.Errorf("%s: %d dispatches fused, %d unfused: nothing fused", name, dispatches[1], dispatches[0])
	}
	for i, o := range f.outs {
		if !bytes.Equal(got[0][i], got[1][i]) {
			t.Errorf("%s: output %d (%v) differs with fusion", name, i, o.g)
		}
		ref := make([]byte, o.c.Bytes())
		if err := f.e.cpu.Read(o.c, ref); err != nil {
			t.Fatal(err)
		}
		g, w := floats(got[1][i]), floats(ref)
		if o.g.Type == gguf.TypeF16 {
			g, w = halves(got[1][i]), halves(ref)
		}
		if err := relErr(g, w); err > f.tols[i] {
			t.Errorf("%s: output %d (%v): relative error %.3g against the CPU > %.3g", name, i, o.g, err, f.tols[i])
		}
	}
}

func halves(b []byte) []float32 {
	xs := make([]float32, len(b)/2)
	for i := range xs {
		xs[i] = kernels.F16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return xs
}

// Tolerances against the CPU: the fused ops' own, as their unfused tests
// state (RMSNorm, RoPE and SwiGLU 1e-6: ulps of sqrt, sin/cos and exp;
// MatMul matmulTol), compounded once: 1e-5 for a matmul's output.

// RMSNorm then a matmul with quantized weights: the norm quantizes (every
// activation format: Q8_0, Q8_1, Q8_K), at sizes that are not powers of two.
func TestFuseRMSNormQuantize(t *testing.T) {
	e := newEnv(t, Options{})
	for _, c := range []struct {
		typ     gguf.Type
		n, m, k int
	}{{gguf.TypeQ8_0, 1, 37, 288}, {gguf.TypeQ4_1, 3, 37, 288}, {gguf.TypeQ4_K, 1, 29, 768}, {gguf.TypeQ6_K, 3, 29, 512}} {
		f := &fusedChain{e: e}
		x, w := f.randomInput(gguf.TypeF32, c.n, c.k), f.randomInput(gguf.TypeF32, 1, c.k)
		wm := f.randomInput(c.typ, c.m, c.k)
		h, o := f.output(e.alloc(gguf.TypeF32, c.n, c.k), 1e-6), f.output(e.alloc(gguf.TypeF32, c.n, c.m), matmulTol)
		f.run(fmt.Sprintf("RMSNorm+MatMul %v %dx%d", c.typ, c.n, c.k), func(b backend.Backend, s func(pair) backend.Tensor) {
			b.RMSNorm(s(h), s(x), s(w), 1e-5)
			b.MatMul(s(o), s(wm), s(h))
		})
	}
}

// A matmul then the residual add, either operand order, F16 and quantized
// weights, an odd number of output rows.
func TestFuseMatMulAdd(t *testing.T) {
	e := newEnv(t, Options{})
	for _, c := range []struct {
		typ     gguf.Type
		n, m, k int
		swap    bool
	}{{gguf.TypeF16, 1, 41, 96, false}, {gguf.TypeQ8_0, 5, 41, 96, true}, {gguf.TypeQ4_K, 2, 23, 256, false}} {
		f := &fusedChain{e: e}
		a, wm := f.randomInput(gguf.TypeF32, c.n, c.k), f.randomInput(c.typ, c.m, c.k)
		x := f.randomInput(gguf.TypeF32, c.n, c.m)
		f.output(x, matmulTol)
		o := f.output(e.alloc(gguf.TypeF32, c.n, c.m), matmulTol)
		f.run(fmt.Sprintf("MatMul+Add %v n=%d swap=%v", c.typ, c.n, c.swap), func(b backend.Backend, s func(pair) backend.Tensor) {
			b.MatMul(s(o), s(wm), s(a))
			if c.swap {
				b.Add(s(x), s(o), s(x))
			} else {
				b.Add(s(x), s(x), s(o))
			}
		})
	}
}

// RoPE of q and k, then k and v into the caches (F32 and F16, rows out of
// order, the other rows left as they were), heads of 48.
func TestFuseRoPEKVWrite(t *testing.T) {
	e := newEnv(t, Options{})
	for _, c := range []struct {
		cache gguf.Type
		mode  backend.RoPEMode
	}{{gguf.TypeF32, backend.RoPENormal}, {gguf.TypeF16, backend.RoPENormal}, {gguf.TypeF32, backend.RoPENeoX}} {
		const n, heads, kvHeads, hd, cacheRows = 3, 4, 2, 48, 20
		f := &fusedChain{e: e}
		q := f.randomInput(gguf.TypeF32, n, heads*hd)
		k := f.randomInput(gguf.TypeF32, n, kvHeads*hd)
		v := f.randomInput(gguf.TypeF32, n, kvHeads*hd)
		pos := f.input(e.alloc(gguf.TypeI32, 1, n), i32bytes([]int32{5, 0, 1234}))
		rows := f.input(e.alloc(gguf.TypeI32, 1, n), i32bytes([]int32{17, 2, 9}))
		kc := f.randomInput(c.cache, cacheRows, kvHeads*hd)
		vc := f.randomInput(c.cache, cacheRows, kvHeads*hd)
		for _, o := range []pair{q, k} {
			f.output(o, 1e-6)
		}
		for _, o := range []pair{kc, vc} {
			f.output(o, 1e-6)
		}
		p := backend.RoPE{Mode: c.mode, HeadDim: hd, Dims: hd, FreqBase: 10000, FreqScale: 1}
		f.run(fmt.Sprintf("RoPE+KVWrite %v mode %d", c.cache, c.mode), func(b backend.Backend, s func(pair) backend.Tensor) {
			b.RoPE(s(q), s(pos), p)
			b.RoPE(s(k), s(pos), p)
			b.KVWrite(s(kc), s(k), s(rows))
			b.KVWrite(s(vc), s(v), s(rows))
		})
	}
}

// SwiGLU in place, then a matmul with quantized weights: one dispatch
// computes and quantizes it (Q8_0, Q8_1 and Q8_K activations).
func TestFuseSwiGLUQuantize(t *testing.T) {
	e := newEnv(t, Options{})
	for _, c := range []struct {
		typ     gguf.Type
		n, m, k int
	}{{gguf.TypeQ8_0, 1, 37, 352}, {gguf.TypeQ5_1, 3, 37, 352}, {gguf.TypeQ4_K, 2, 19, 512}} {
		f := &fusedChain{e: e}
		g, u := f.randomInput(gguf.TypeF32, c.n, c.k), f.randomInput(gguf.TypeF32, c.n, c.k)
		wm := f.randomInput(c.typ, c.m, c.k)
		f.output(g, 1e-6)
		o := f.output(e.alloc(gguf.TypeF32, c.n, c.m), matmulTol)
		f.run(fmt.Sprintf("SwiGLU+MatMul %v %dx%d", c.typ, c.n, c.k), func(b backend.Backend, s func(pair) backend.Tensor) {
			b.SwiGLU(s(g), s(g), s(u))
			b.MatMul(s(o), s(wm), s(g))
		})
	}
}

// The output projection, the residual add and the next RMSNorm (and its
// quantize, for quantized weights) in one dispatch, for decode batches; a
// larger batch fuses only the add. Tolerance 1e-5 for every output: the
// matmul's, then an exact add and a norm of it.
func TestFuseMatMulAddNorm(t *testing.T) {
	e := newEnv(t, Options{})
	for _, c := range []struct {
		wo, wq gguf.Type
		n, m   int
	}{{gguf.TypeQ8_0, gguf.TypeQ8_0, 1, 288}, {gguf.TypeF16, gguf.TypeQ4_1, 3, 288}, {gguf.TypeQ4_0, gguf.TypeQ4_K, 1, 512},
		{gguf.TypeF32, gguf.TypeF32, 4, 96}, {gguf.TypeQ8_0, gguf.TypeQ8_0, 5, 288}} {
		const k, mq = 64, 33
		f := &fusedChain{e: e}
		a, wo := f.randomInput(gguf.TypeF32, c.n, k), f.randomInput(c.wo, c.m, k)
		x, nw := f.randomInput(gguf.TypeF32, c.n, c.m), f.randomInput(gguf.TypeF32, 1, c.m)
		wq := f.randomInput(c.wq, mq, c.m)
		f.output(x, 1e-5)
		o := f.output(e.alloc(gguf.TypeF32, c.n, c.m), 1e-5)
		h := f.output(e.alloc(gguf.TypeF32, c.n, c.m), 1e-5)
		q := f.output(e.alloc(gguf.TypeF32, c.n, mq), 1e-5)
		f.run(fmt.Sprintf("MatMul+Add+RMSNorm %v/%v n=%d", c.wo, c.wq, c.n), func(b backend.Backend, s func(pair) backend.Tensor) {
			b.MatMul(s(o), s(wo), s(a))
			b.Add(s(x), s(x), s(o))
			b.RMSNorm(s(h), s(x), s(nw), 1e-5)
			b.MatMul(s(q), s(wq), s(h))
		})
	}
}
