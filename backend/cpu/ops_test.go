package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// These tests pin the reference ops to their float64 definitions on fresh random
// inputs, with outputs poisoned (NaN) first. Tolerances are relative,
// ‖out−ref‖/‖ref‖: 1e-6 for plain float32 arithmetic over short rows (float32
// rounding is 6e-8 per operation), looser where the op quantizes by design.

func newTensor(t testing.TB, b *Backend, typ gguf.Type, rows, cols int) backend.Tensor {
	t.Helper()
	tt := backend.Tensor{Type: typ, Rows: rows, Cols: cols}
	buf, err := b.Alloc(tt.Bytes())
	require.NoError(t, err)
	tt.Buf = buf
	return tt
}

func randomF32(t testing.TB, b *Backend, rng *rand.Rand, rows, cols int) (backend.Tensor, []float32) {
	tt := newTensor(t, b, gguf.TypeF32, rows, cols)
	v := f32s(tt)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return tt, append([]float32(nil), v...)
}

func poisoned(t *testing.T, b *Backend, rows, cols int) backend.Tensor {
	tt := newTensor(t, b, gguf.TypeF32, rows, cols)
	for i, v := 0, f32s(tt); i < len(v); i++ {
		v[i] = float32(math.NaN())
	}
	return tt
}

func ints(t *testing.T, b *Backend, vals ...int32) backend.Tensor {
	tt := newTensor(t, b, gguf.TypeI32, 1, len(vals))
	copy(i32s(tt), vals)
	return tt
}

func relErr(t *testing.T, got []float32, want []float64) float64 {
	t.Helper()
	require.Len(t, got, len(want))
	var num, den float64
	for i := range got {
		require.False(t, math.IsNaN(float64(got[i])), "NaN at %d: output not written", i)
		d := float64(got[i]) - want[i]
		num += d * d
		den += want[i] * want[i]
	}
	return math.Sqrt(num / den)
}

func TestMatMulMatchesFloat64(t *testing.T) {
	b := New(2)
	defer b.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		typ gguf.Type
		tol float64
	}{
		{gguf.TypeF32, 1e-6},
		// The activations are converted before the dot: rounded to F16 (2^-11
		// relative per value) or BF16 (2^-8), or quantized to 8 bits per 32-block
		// (up to max|x|/254 per value, ~1/100 of a typical value). With as few as
		// 7 outputs of 32 terms each, the norm of the error relative to that of the
		// result has the same order, so the bounds leave about 3x headroom.
		{gguf.TypeF16, 2e-3},
		{gguf.TypeBF16, 3e-2},
		{gguf.TypeQ8_0, 3e-2},
		{gguf.TypeQ4_0, 3e-2},
		{gguf.TypeQ4_1, 3e-2},
		{gguf.TypeQ5_0, 3e-2},
		{gguf.TypeQ5_1, 3e-2},
	} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			for _, shape := range [][3]int{{1, 7, 64}, {5, 33, 96}, {3, 1, 32}} {
				n, m, k := shape[0], shape[1], shape[2]
				x, xs := randomF32(t, b, rng, n, k)
				wf := make([]float32, m*k)
				for i := range wf {
					wf[i] = float32(rng.NormFloat64())
				}
				w := newTensor(t, b, tc.typ, m, k)
				kernels.QuantizeRow(tc.typ, raw(w), wf)
				kernels.DequantizeRow(tc.typ, wf, raw(w)) // the reference uses the weights as stored
				dst := poisoned(t, b, n, m)
				b.MatMul(dst, w, x)
				want := make([]float64, n*m)
				for i := 0; i < n; i++ {
					for j := 0; j < m; j++ {
						for c := 0; c < k; c++ {
							want[i*m+j] += float64(xs[i*k+c]) * float64(wf[j*k+c])
						}
					}
				}
				require.Less(t, relErr(t, f32s(dst), want), tc.tol, "n=%d m=%d k=%d", n, m, k)
			}
		})
	}
}

func TestRMSNormAddSwiGLUMatchFloat64(t *testing.T) {
	b := New(2)
	defer b.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	x, xs := randomF32(t, b, rng, 3, 50)
	w, ws := randomF32(t, b, rng, 1, 50)
	dst := poisoned(t, b, 3, 50)
	b.RMSNorm(dst, x, w, 1e-5)
	want := make([]float64, 150)
	for r := 0; r < 3; r++ {
		var ss float64
		for c := 0; c < 50; c++ {
			ss += float64(xs[r*50+c]) * float64(xs[r*50+c])
		}
		scale := 1 / math.Sqrt(ss/50+1e-5)
		for c := 0; c < 50; c++ {
			want[r*50+c] = float64(xs[r*50+c]) * scale * float64(ws[c])
		}
	}
	require.Less(t, relErr(t, f32s(dst), want), 1e-6)

	y, ys := randomF32(t, b, rng, 3, 50)
	dst = poisoned(t, b, 3, 50)
	b.Add(dst, x, y)
	for i := range want {
		want[i] = float64(xs[i]) + float64(ys[i])
	}
	require.Less(t, relErr(t, f32s(dst), want), 1e-7)

	dst = poisoned(t, b, 3, 50)
	b.SwiGLU(dst, x, y)
	for i := range want {
		g := float64(xs[i])
		want[i] = g / (1 + math.Exp(-g)) * float64(ys[i])
	}
	require.Less(t, relErr(t, f32s(dst), want), 1e-6)
}

func TestRoPEMatchesFloat64(t *testing.T) {
	b := New(1)
	defer b.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, mode := range []backend.RoPEMode{backend.RoPENormal, backend.RoPENeoX} {
		for _, p := range []backend.RoPE{
			{Mode: mode, HeadDim: 16, Dims: 16, FreqBase: 10000, FreqScale: 1},
			{Mode: mode, HeadDim: 16, Dims: 8, FreqBase: 500000, FreqScale: 0.25}, // partial rotation, linear scaling
			{Mode: mode, HeadDim: 8, Dims: 8, FreqBase: 10000, FreqScale: 1, Factors: []float32{1, 2, 4, 8}},
		} {
			x, xs := randomF32(t, b, rng, 3, 3*p.HeadDim)
			pos := []int32{0, 7, 300}
			b.RoPE(x, ints(t, b, pos...), p)
			want := make([]float64, len(xs))
			for i := range xs {
				want[i] = float64(xs[i])
			}
			for r, ps := range pos {
				for h := 0; h < 3; h++ {
					base := r*3*p.HeadDim + h*p.HeadDim
					for i := 0; i < p.Dims/2; i++ {
						a, c := base+2*i, base+2*i+1
						if mode == backend.RoPENeoX {
							a, c = base+i, base+i+p.Dims/2
						}
						theta := float64(ps) * float64(p.FreqScale) * math.Pow(float64(p.FreqBase), -2*float64(i)/float64(p.Dims))
						if p.Factors != nil {
							theta /= float64(p.Factors[i])
						}
						x0, x1 := float64(xs[a]), float64(xs[c])
						want[a] = x0*math.Cos(theta) - x1*math.Sin(theta)
						want[c] = x0*math.Sin(theta) + x1*math.Cos(theta)
					}
				}
			}
			// Angles are built in float32 by repeated multiplication, as ggml does:
			// at position 300 that drifts by ~1e-5 relative.
			require.Less(t, relErr(t, f32s(x), want), 1e-4, "%+v", p)
		}
	}
}

func TestAttendMatchesFloat64(t *testing.T) {
	b := New(2)
	defer b.Close()
	rng := rand.New(rand.NewPCG(7, 8))
	const heads, kvHeads, hd, ctx, seqs = 4, 2, 8, 6, 2
	for _, cacheType := range []gguf.Type{gguf.TypeF32, gguf.TypeF16} {
		kSrc, ks := randomF32(t, b, rng, seqs*ctx, kvHeads*hd)
		vSrc, vs := randomF32(t, b, rng, seqs*ctx, kvHeads*hd)
		kc := newTensor(t, b, cacheType, seqs*ctx, kvHeads*hd)
		vc := newTensor(t, b, cacheType, seqs*ctx, kvHeads*hd)
		rows := make([]int32, seqs*ctx)
		for i := range rows {
			rows[i] = int32(i)
		}
		b.KVWrite(kc, kSrc, ints(t, b, rows...))
		b.KVWrite(vc, vSrc, ints(t, b, rows...))
		// What the cache holds, as float32.
		kf, vf := make([]float32, len(ks)), make([]float32, len(vs))
		kernels.DequantizeRow(cacheType, kf, raw(kc))
		kernels.DequantizeRow(cacheType, vf, raw(vc))
		if cacheType == gguf.TypeF32 {
			require.Equal(t, ks, kf)
		}

		q, qs := randomF32(t, b, rng, 3, heads*hd)
		pos, seq := []int32{0, 3, 5}, []int32{1, 0, 1}
		dst := poisoned(t, b, 3, heads*hd)
		p := backend.Attention{Heads: heads, KVHeads: kvHeads, HeadDim: hd, Context: ctx, Scale: 1 / float32(math.Sqrt(hd))}
		b.Attend(dst, q, kc, vc, ints(t, b, pos...), ints(t, b, seq...), p)
		want := make([]float64, 3*heads*hd)
		for i := range pos {
			for h := 0; h < heads; h++ {
				kvh := h / (heads / kvHeads)
				n := int(pos[i]) + 1
				scores := make([]float64, n)
				maxS := math.Inf(-1)
				for tpos := 0; tpos < n; tpos++ {
					r := int(seq[i])*ctx + tpos
					for d := 0; d < hd; d++ {
						scores[tpos] += float64(qs[i*heads*hd+h*hd+d]) * float64(kf[r*kvHeads*hd+kvh*hd+d])
					}
					scores[tpos] *= float64(p.Scale)
					maxS = math.Max(maxS, scores[tpos])
				}
				var sum float64
				for tpos := range scores {
					scores[tpos] = math.Exp(scores[tpos] - maxS)
					sum += scores[tpos]
				}
				for tpos := range scores {
					r := int(seq[i])*ctx + tpos
					for d := 0; d < hd; d++ {
						want[i*heads*hd+h*hd+d] += scores[tpos] / sum * float64(vf[r*kvHeads*hd+kvh*hd+d])
					}
				}
			}
		}
		// With an F16 cache, q and the softmax weights are rounded to F16 as
		// ggml does (2^-11 relative each), so the bound is looser.
		tol := 1e-6
		if cacheType == gguf.TypeF16 {
			tol = 2e-3
		}
		require.Less(t, relErr(t, f32s(dst), want), tol, "cache %v", cacheType)
	}
}

func TestGetRowsDequantizes(t *testing.T) {
	b := New(1)
	defer b.Close()
	rng := rand.New(rand.NewPCG(9, 10))
	vals := make([]float32, 5*64)
	for i := range vals {
		vals[i] = float32(rng.NormFloat64())
	}
	table := newTensor(t, b, gguf.TypeQ8_0, 5, 64)
	kernels.QuantizeRow(gguf.TypeQ8_0, raw(table), vals)
	kernels.DequantizeRow(gguf.TypeQ8_0, vals, raw(table))
	dst := poisoned(t, b, 3, 64)
	b.GetRows(dst, table, ints(t, b, 4, 0, 4))
	got := f32s(dst)
	require.Equal(t, vals[4*64:5*64], got[0:64])
	require.Equal(t, vals[0:64], got[64:128])
	require.Equal(t, vals[4*64:5*64], got[128:192])
}

func TestWriteReadAndMappedBuffers(t *testing.T) {
	b := New(1)
	defer b.Close()
	tt := newTensor(t, b, gguf.TypeF32, 2, 3)
	in := []float32{1, 2, 3, 4, 5, 6}
	require.NoError(t, b.Write(tt, unsafe.Slice((*byte)(unsafe.Pointer(&in[0])), 24)))
	out := make([]byte, 24)
	require.NoError(t, b.Read(tt.Slice(1, 2), out[:12]))
	require.Equal(t, []float32{4, 5, 6}, asF32(out[:12]))
	require.ErrorContains(t, b.Write(tt, make([]byte, 5)), "write of 5 bytes")

	buf, err := b.MapHost(make([]byte, 24))
	require.NoError(t, err)
	mapped := backend.Tensor{Buf: buf, Type: gguf.TypeF32, Rows: 2, Cols: 3}
	require.ErrorContains(t, b.Write(mapped, make([]byte, 24)), "read-only")
}
