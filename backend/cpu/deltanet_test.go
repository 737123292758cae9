package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

func f32Tensor(tb testing.TB, be *Backend, rows, cols int, vals []float32) backend.Tensor {
	t := backend.Tensor{Type: gguf.TypeF32, Rows: rows, Cols: cols}
	buf, err := be.Alloc(t.Bytes())
	require.NoError(tb, err)
	t.Buf = buf
	copy(f32s(t), vals)
	return t
}

func randVals(r *rand.Rand, n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64()) * scale
	}
	return v
}

// deltaNetRef is the gated delta rule of one sequence in float64, straight
// from its definition.
func deltaNetRef(p backend.DeltaNet, qkv, beta, alpha, dtBias, a []float32, n int) []float64 {
	hk, hv, dk, dv := p.KeyHeads, p.ValueHeads, p.KeyDim, p.ValueDim
	cols := p.ConvChannels()
	out := make([]float64, n*hv*dv)
	per := hv / hk
	for j := 0; j < hv; j++ {
		m := make([]float64, dv*dk)
		kh := p.KeyHead(j)
		for t := 0; t < n; t++ {
			row := qkv[t*cols:]
			norm := func(x []float32) []float64 {
				var s float64
				for _, v := range x {
					s += float64(v) * float64(v)
				}
				y := make([]float64, len(x))
				for i, v := range x {
					y[i] = float64(v) / math.Sqrt(s+float64(p.Eps))
				}
				return y
			}
			q, k := norm(row[kh*dk:(kh+1)*dk]), norm(row[(hk+kh)*dk:(hk+kh+1)*dk])
			v := row[2*hk*dk+j*dv:]
			var bl, al float64
			if p.GroupedBA {
				g := beta[t*2*hv+(j/per)*2*per:]
				bl, al = float64(g[j%per]), float64(g[per+j%per])
			} else {
				bl, al = float64(beta[t*hv+j]), float64(alpha[t*hv+j])
			}
			b := 1 / (1 + math.Exp(-bl))
			decay := math.Exp(math.Log1p(math.Exp(al+float64(dtBias[j]))) * float64(a[j]))
			for i := range m {
				m[i] *= decay
			}
			for r := 0; r < dv; r++ {
				var mk float64
				for c := 0; c < dk; c++ {
					mk += m[r*dk+c] * k[c]
				}
				u := b * (float64(v[r]) - mk)
				var o float64
				for c := 0; c < dk; c++ {
					m[r*dk+c] += u * k[c]
					o += m[r*dk+c] * q[c]
				}
				out[t*hv*dv+j*dv+r] = o * float64(p.Scale)
			}
		}
	}
	return out
}

// DeltaNet agrees with the float64 definition, for both head layouts, and a
// sequence's outputs are bit-identical whether its tokens come in one call
// beside another sequence's or one call per token.
func TestDeltaNet(t *testing.T) {
	for _, grouped := range []bool{false, true} {
		p := backend.DeltaNet{KeyHeads: 2, ValueHeads: 4, KeyDim: 8, ValueDim: 6, Tiled: !grouped, GroupedBA: grouped, Eps: 1e-6, Scale: 1 / float32(math.Sqrt(8))}
		be := New(2)
		r := rand.New(rand.NewPCG(1, 2))
		const n = 7
		cols, hv := p.ConvChannels(), p.ValueHeads
		qkv := randVals(r, n*cols, 1)
		betaW := hv
		if grouped {
			betaW = 2 * hv
		}
		beta, alpha := randVals(r, n*betaW, 1), randVals(r, n*hv, 1)
		dt, a := randVals(r, hv, 0.5), randVals(r, hv, 0.3)
		for i := range a {
			a[i] = -float32(math.Abs(float64(a[i]))) - 0.1
		}
		want := deltaNetRef(p, qkv, beta, alpha, dt, a, n)

		dtT, aT := f32Tensor(t, be, 1, hv, dt), f32Tensor(t, be, 1, hv, a)
		state := f32Tensor(t, be, 2, p.StateSize(), randVals(r, 2*p.StateSize(), 1)) // garbage: position 0 resets it
		// Sequence 1 in one call, interleaved with sequence 0 (the same tokens).
		var bq, bb, ba []float32
		var pos, seq []int32
		for i := 0; i < n; i++ {
			for s := int32(0); s < 2; s++ {
				bq = append(bq, qkv[i*cols:(i+1)*cols]...)
				bb = append(bb, beta[i*betaW:(i+1)*betaW]...)
				ba = append(ba, alpha[i*hv:(i+1)*hv]...)
				pos, seq = append(pos, int32(i)), append(seq, s)
			}
		}
		out := f32Tensor(t, be, 2*n, hv*p.ValueDim, nil)
		be.DeltaNet(out, f32Tensor(t, be, 2*n, cols, bq), f32Tensor(t, be, 2*n, betaW, bb), f32Tensor(t, be, 2*n, hv, ba),
			dtT, aT, state, i32Tensor(t, be, pos), i32Tensor(t, be, seq), p)
		together := f32s(out)
		for i := 0; i < n; i++ {
			for c := 0; c < hv*p.ValueDim; c++ {
				require.InDelta(t, want[i*hv*p.ValueDim+c], together[(2*i+1)*hv*p.ValueDim+c], 1e-5)
			}
		}
		// Sequence 1 again, one token per call.
		for i := 0; i < n; i++ {
			one := f32Tensor(t, be, 1, hv*p.ValueDim, nil)
			be.DeltaNet(one, f32Tensor(t, be, 1, cols, qkv[i*cols:(i+1)*cols]), f32Tensor(t, be, 1, betaW, beta[i*betaW:(i+1)*betaW]),
				f32Tensor(t, be, 1, hv, alpha[i*hv:(i+1)*hv]), dtT, aT, state, i32Tensor(t, be, []int32{int32(i)}), i32Tensor(t, be, []int32{1}), p)
			require.Equal(t, together[(2*i+1)*hv*p.ValueDim:(2*i+2)*hv*p.ValueDim], f32s(one), "token %d", i)
		}
	}
}

// SSMConv is silu of the causal convolution with zero history at position 0,
// continued across calls.
func TestSSMConv(t *testing.T) {
	be := New(2)
	r := rand.New(rand.NewPCG(3, 4))
	const n, c, k = 6, 5, 4
	x, w := randVals(r, n*c, 1), randVals(r, c*k, 1)
	state := f32Tensor(t, be, 1, (k-1)*c, randVals(r, (k-1)*c, 1))
	wT := f32Tensor(t, be, c, k, w)
	got := make([]float32, 0, n*c)
	for _, rg := range [][2]int{{0, 2}, {2, 3}, {3, n}} { // chunks
		lo, hi := rg[0], rg[1]
		pos := make([]int32, hi-lo)
		for i := range pos {
			pos[i] = int32(lo + i)
		}
		out := f32Tensor(t, be, hi-lo, c, nil)
		be.SSMConv(out, f32Tensor(t, be, hi-lo, c, x[lo*c:hi*c]), wT, state, i32Tensor(t, be, pos), i32Tensor(t, be, make([]int32, hi-lo)))
		got = append(got, f32s(out)...)
	}
	for tk := 0; tk < n; tk++ {
		for ch := 0; ch < c; ch++ {
			var s float64
			for j := 0; j < k; j++ {
				if src := tk - (k - 1) + j; src >= 0 {
					s += float64(w[ch*k+j]) * float64(x[src*c+ch])
				}
			}
			require.InDelta(t, s/(1+math.Exp(-s)), got[tk*c+ch], 1e-5, "token %d channel %d", tk, ch)
		}
	}
}
