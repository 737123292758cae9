package cuda

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Every op against the CPU backend on fresh random inputs at awkward sizes,
// outputs poisoned first. Tolerances (relative error ‖got−ref‖/‖ref‖):
//   - 0 for F32 and F16 matmuls: the same fused multiply-adds in the CPU's
//     64-lane order (x rounded to F16 for F16 weights); for the norms,
//     whose float64 sums hardly ever depend on their order; and for RoPE,
//     whose angles' cos and sin are float64's, rounded, as the CPU's;
//   - 1e-5 where both compute the same products and only the order of float
//     sums or a libm ulp differs (Q8_0/Q4_0 matmuls: x is quantized with
//     the CPU's rounding and blocks summed exactly in int);
//   - 0 for copies and conversions (get_rows, kv_write, argmax, Route);
//   - 2e-2 for weight types expanded to F16 (the CPU quantizes x to Q8_K for
//     them: quantization noise, not a bug), over 67 outputs or more; and
//     1e-5 against the CPU over the same F16 expansion;
//   - 5e-5 for attention over an F16 cache: both score in the same order and
//     accumulate in F16, rounded after every key, so only a device exp's or
//     tanh's last bit differs, at times flipping an F16 rounding (on the
//     emulator, with glibc's expf, the CPU's bits but for soft-capping,
//     3e-8; the float32 accumulator this replaced was 3e-4 off here and
//     moved stories260K-q8_0's logits by 0.16).

func TestMatMulMatchesCPU(t *testing.T) {
	e := newEnv(t)
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_K, gguf.TypeQ6_K, gguf.TypeQ5_0} {
		for _, s := range []struct{ n, m, k int }{{1, 1, 256}, {1, 67, 512}, {3, 130, 256}, {9, 5, 768}, {17, 33, 1024}, {1, 4099, 256}} {
			t.Run(fmt.Sprintf("%v/n%d_m%d_k%d", typ, s.n, s.m, s.k), func(t *testing.T) {
				e.t = t
				w, x, dst := e.weight(typ, s.m, s.k), e.f32(s.n, s.k, 1), e.out(s.n, s.m)
				e.gpu.MatMul(dst.g, w.g, x.g)
				if direct(typ) {
					e.cpu.MatMul(dst.c, w.c, x.c)
					tol := 0.0 // F32, F16: the CPU's order, the CPU's bits
					if typ == gguf.TypeQ8_0 || typ == gguf.TypeQ4_0 {
						tol = 1e-5
					}
					e.check("MatMul", dst, tol)
					return
				}
				// What the backend computes by design: the F16 expansion.
				e.cpu.MatMul(dst.c, e.asF16(w).c, x.c)
				e.check("MatMul over the F16 expansion", dst, 1e-5)
				if s.m > 1 { // one output alone may be small: noise is relative to the sum of |products|
					e.cpu.MatMul(dst.c, w.c, x.c)
					e.check("MatMul", dst, 2e-2)
				}
			})
		}
	}
}

// A row's result does not depend on the batch it is in: decode (one row)
// and prefill tiles (8 rows) compute every output in the same order.
func TestMatMulIsBatchInvariant(t *testing.T) {
	e := newEnv(t)
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0} {
		w, x := e.weight(typ, 70, 512), e.f32(13, 512, 1)
		all, one := e.out(13, 70), e.out(1, 70)
		e.gpu.MatMul(all.g, w.g, x.g)
		got, _ := e.read(all)
		for r := range 13 {
			e.gpu.MatMul(one.g, w.g, x.g.Slice(r, r+1))
			row, _ := e.read(one)
			require.Equal(t, got[r*70:(r+1)*70], row, "%v row %d", typ, r)
		}
	}
}

func TestMatMulIDMatchesCPU(t *testing.T) {
	e := newEnv(t)
	const experts, m, k, n, used = 5, 37, 256, 3, 2
	ids := e.i32([]int32{4, 0, 1, 1, 3, 2})
	ids.g.Rows, ids.g.Cols, ids.c.Rows, ids.c.Cols = n, used, n, used
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeF16} {
		w := e.weight(typ, experts*m, k)
		for _, xrows := range []int{n, n * used} {
			x, dst := e.f32(xrows, k, 1), e.out(n*used, m)
			e.gpu.MatMulID(dst.g, w.g, x.g, ids.g)
			e.cpu.MatMulID(dst.c, w.c, x.c, ids.c)
			e.check(fmt.Sprintf("MatMulID %v x rows %d", typ, xrows), dst, 1e-5)
		}
	}
}

func TestGetRowsMatchesCPU(t *testing.T) {
	e := newEnv(t)
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_K} {
		cols := 288
		if typ.BlockSize() == 256 {
			cols = 512 // K-quant rows are whole 256-value superblocks
		}
		table, ids := e.weight(typ, 50, cols), e.i32([]int32{49, 0, 7, 7, 31})
		dst := e.out(5, cols)
		e.gpu.GetRows(dst.g, table.g, ids.g)
		e.cpu.GetRows(dst.c, table.c, ids.c)
		tol := 0.0
		if !direct(typ) {
			tol = 1e-3 // the F16 copy rounds
		}
		e.check(fmt.Sprintf("GetRows %v", typ), dst, tol)
	}
}

func TestNormsMatchCPU(t *testing.T) {
	e := newEnv(t)
	for _, cols := range []int{1, 7, 288, 1000, 4099} {
		x, w, b := e.f32(5, cols, 3), e.f32(1, cols, 1), e.f32(1, cols, 1)
		dst := e.out(5, cols)
		e.gpu.RMSNorm(dst.g, x.g, w.g, 1e-5)
		e.cpu.RMSNorm(dst.c, x.c, w.c, 1e-5)
		e.check(fmt.Sprintf("RMSNorm cols %d", cols), dst, 0)
		e.gpu.LayerNorm(dst.g, x.g, w.g, b.g, 1e-5)
		e.cpu.LayerNorm(dst.c, x.c, w.c, b.c, 1e-5)
		e.check(fmt.Sprintf("LayerNorm cols %d", cols), dst, 0)
	}
}

func TestElementwiseOpsMatchCPU(t *testing.T) {
	e := newEnv(t)
	rows, cols := 3, 1001
	a, b, row := e.f32(rows, cols, 2), e.f32(rows, cols, 2), e.f32(1, cols, 1)
	ops := map[string]func(be backend.Backend, dst, a, b, row backend.Tensor){
		"Add":       func(be backend.Backend, d, a, b, _ backend.Tensor) { be.Add(d, a, b) },
		"AddRow":    func(be backend.Backend, d, a, _, r backend.Tensor) { be.AddRow(d, a, r) },
		"Scale":     func(be backend.Backend, d, a, _, _ backend.Tensor) { be.Scale(d, a, -0.37) },
		"SwiGLU":    func(be backend.Backend, d, a, b, _ backend.Tensor) { be.SwiGLU(d, a, b) },
		"GELU":      func(be backend.Backend, d, a, _, _ backend.Tensor) { be.GELU(d, a) },
		"GeGLU":     func(be backend.Backend, d, a, b, _ backend.Tensor) { be.GeGLU(d, a, b) },
		"SoftCap":   func(be backend.Backend, d, a, _, _ backend.Tensor) { be.SoftCap(d, a, 1.5) },
		"SwiGLUOAI": func(be backend.Backend, d, a, b, _ backend.Tensor) { be.SwiGLUOAI(d, a, b, 1.702, 1.1) },
	}
	for name, op := range ops {
		dst := e.out(rows, cols)
		op(e.gpu, dst.g, a.g, b.g, row.g)
		op(e.cpu, dst.c, a.c, b.c, row.c)
		e.check(name, dst, 1e-5)
	}
	// In place, as the models call them.
	dst := e.f32(rows, cols, 1)
	e.gpu.Add(dst.g, dst.g, a.g)
	e.cpu.Add(dst.c, dst.c, a.c)
	e.check("Add in place", dst, 1e-6)
}

func TestRoPEMatchesCPU(t *testing.T) {
	e := newEnv(t)
	factors := make([]float32, 32)
	for i := range factors {
		factors[i] = 1 + float32(i)/8
	}
	for name, p := range map[string]backend.RoPE{
		"normal":  {Mode: backend.RoPENormal, HeadDim: 64, Dims: 64, FreqBase: 10000},
		"neox":    {Mode: backend.RoPENeoX, HeadDim: 128, Dims: 128, FreqBase: 1e6, FreqScale: 0.25},
		"partial": {Mode: backend.RoPENeoX, HeadDim: 64, Dims: 32, FreqBase: 10000},
		"factors": {Mode: backend.RoPENormal, HeadDim: 64, Dims: 64, FreqBase: 500000, Factors: factors},
		"yarn": {Mode: backend.RoPENeoX, HeadDim: 64, Dims: 64, FreqBase: 10000, FreqScale: 0.25, ExtFactor: 1,
			CorrDims: [2]float32{4, 20}, MScale: 1.1},
	} {
		heads := 3
		x := e.f32(5, heads*p.HeadDim, 1)
		pos := e.i32([]int32{0, 1, 17, 511, 4095})
		e.gpu.RoPE(x.g, pos.g, p)
		e.cpu.RoPE(x.c, pos.c, p)
		e.check("RoPE "+name, x, 0)
	}
}

func TestAttentionMatchesCPU(t *testing.T) {
	e := newEnv(t)
	for _, cache := range []gguf.Type{gguf.TypeF32, gguf.TypeF16} {
		for name, p := range map[string]backend.Attention{
			"gqa":     {Heads: 8, KVHeads: 2, HeadDim: 64, Context: 300},
			"mha-odd": {Heads: 3, KVHeads: 3, HeadDim: 40, Context: 77},
			"window":  {Heads: 4, KVHeads: 1, HeadDim: 128, Context: 300, Window: 33},
			"softcap": {Heads: 4, KVHeads: 2, HeadDim: 256, Context: 64, SoftCap: 30},
			"sinks":   {Heads: 4, KVHeads: 2, HeadDim: 64, Context: 64},
		} {
			p.Scale = float32(1 / math.Sqrt(float64(p.HeadDim)))
			const seqs = 2
			kvw := p.KVHeads * p.HeadDim
			k, v := e.alloc(cache, seqs*p.Context, kvw), e.alloc(cache, seqs*p.Context, kvw)
			// Fill both caches through KVWrite (tested by this too).
			src := e.f32(seqs*p.Context, kvw, 1)
			rows := make([]int32, seqs*p.Context)
			for i := range rows {
				rows[i] = int32(i)
			}
			r := e.i32(rows)
			e.gpu.KVWrite(k.g, src.g, r.g)
			e.cpu.KVWrite(k.c, src.c, r.c)
			src2 := e.f32(seqs*p.Context, kvw, 1)
			e.gpu.KVWrite(v.g, src2.g, r.g)
			e.cpu.KVWrite(v.c, src2.c, r.c)
			pg, pc := p, p
			if name == "sinks" {
				s := e.f32(1, p.Heads, 1)
				pg.Sinks, pc.Sinks = s.g, s.c
			}
			last := int32(p.Context - 1)
			q := e.f32(5, p.Heads*p.HeadDim, 1)
			pos, seq := e.i32([]int32{0, 1, last / 2, last, 5}), e.i32([]int32{0, 1, 1, 0, 1})
			dst := e.out(5, p.Heads*p.HeadDim)
			e.gpu.Attend(dst.g, q.g, k.g, v.g, pos.g, seq.g, pg)
			e.cpu.Attend(dst.c, q.c, k.c, v.c, pos.c, seq.c, pc)
			e.check(fmt.Sprintf("Attend %v %s", cache, name), dst, tolAttend(cache))
		}
	}
}

func tolAttend(cache gguf.Type) float64 {
	if cache == gguf.TypeF16 {
		return 5e-5
	}
	return 1e-5
}

func TestKVWriteMatchesCPU(t *testing.T) {
	e := newEnv(t)
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16} {
		cache := e.alloc(typ, 20, 96)
		zero := make([]byte, cache.g.Bytes())
		e.write(cache, zero)
		src, rows := e.f32(3, 96, 1), e.i32([]int32{19, 0, 7})
		e.gpu.KVWrite(cache.g, src.g, rows.g)
		e.cpu.KVWrite(cache.c, src.c, rows.c)
		g, c := make([]byte, cache.g.Bytes()), make([]byte, cache.c.Bytes())
		require.NoError(t, e.gpu.Read(cache.g, g))
		require.NoError(t, e.cpu.Read(cache.c, c))
		require.Equal(t, c, g, "%v cache", typ)
	}
}

func TestArgMaxMatchesCPU(t *testing.T) {
	e := newEnv(t)
	xs := e.randn(4*32003, 1)
	xs[5] = float32(math.NaN())
	xs[32003+100], xs[32003+200] = 50, 50 // a tie: the first wins
	x := e.alloc(gguf.TypeF32, 4, 32003)
	e.write(x, f32bytes(xs))
	got, want := make([]int32, 4), make([]int32, 4)
	require.NoError(t, e.gpu.ArgMax(x.g, got))
	require.NoError(t, e.cpu.ArgMax(x.c, want))
	require.Equal(t, want, got)
	require.Equal(t, int32(100), got[1])
}

func TestRouteAndMoESumMatchCPU(t *testing.T) {
	e := newEnv(t)
	const n, experts, used, d = 4, 8, 2, 100
	logits := e.f32(n, experts, 2)
	for _, g := range []backend.Gating{backend.GatingSoftmax, backend.GatingTopKSoftmax} {
		ids, weights := e.alloc(gguf.TypeI32, n, used), e.out(n, used)
		e.gpu.Route(ids.g, weights.g, logits.g, g)
		e.cpu.Route(ids.c, weights.c, logits.c, g)
		e.check("Route weights", weights, 0)
		gi, ci := make([]byte, ids.g.Bytes()), make([]byte, ids.c.Bytes())
		require.NoError(t, e.gpu.Read(ids.g, gi))
		require.NoError(t, e.cpu.Read(ids.c, ci))
		require.Equal(t, ci, gi)

		x, dst := e.f32(n*used, d, 1), e.out(n, d)
		e.gpu.MoESum(dst.g, x.g, weights.g)
		e.cpu.MoESum(dst.c, x.c, weights.c)
		e.check("MoESum", dst, 1e-6)
	}
}

// A decode-like step run again and again is captured once as a CUDA graph
// and replayed, with the same results as the plain launches.
func TestRepeatedStepsReplayAGraph(t *testing.T) {
	e := newEnv(t)
	w, x, norm := e.weight(gguf.TypeQ4_0, 64, 256), e.f32(1, 256, 1), e.f32(1, 256, 1)
	h, out := e.out(1, 256), e.out(1, 64)
	var first []float32
	for i := range 4 {
		for range 5 { // enough commands to be worth a graph
			e.gpu.RMSNorm(h.g, x.g, norm.g, 1e-5)
			e.gpu.MatMul(out.g, w.g, h.g)
		}
		got, _ := e.read(out)
		if i == 0 {
			first = got
		}
		require.Equal(t, first, got, "run %d", i)
	}
	captures, replays := e.gpu.GraphCounts()
	require.Equal(t, int64(1), captures)
	require.Equal(t, int64(3), replays)
}

func TestUnsupportedOpsReportAnError(t *testing.T) {
	e := newEnv(t)
	cache := e.alloc(gguf.TypeQ8_0, 4, 64)
	src, rows := e.f32(1, 64, 1), e.i32([]int32{0})
	e.gpu.KVWrite(cache.g, src.g, rows.g)
	err := e.gpu.Read(src.g, make([]byte, src.g.Bytes()))
	require.ErrorContains(t, err, "not supported by the cuda backend")
	e.gpu.err = nil // Close would report it again
}
