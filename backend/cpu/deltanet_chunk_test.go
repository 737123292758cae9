package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/backend"
)

const chunk = backend.DeltaNetChunk

// deltaNetInputs are one sequence's random DeltaNet inputs.
type deltaNetInputs struct {
	p                       backend.DeltaNet
	n, betaW                int
	qkv, beta, alpha, dt, a []float32
	dtT, aT                 backend.Tensor
	be                      *Backend
	tb                      testing.TB
}

func newDeltaNetInputs(tb testing.TB, be *Backend, p backend.DeltaNet, n int, seed uint64) *deltaNetInputs {
	r := rand.New(rand.NewPCG(seed, 9))
	hv := p.ValueHeads
	x := &deltaNetInputs{p: p, n: n, betaW: hv, be: be, tb: tb}
	if p.GroupedBA {
		x.betaW = 2 * hv
	}
	x.qkv = randVals(r, n*p.ConvChannels(), 1)
	x.beta, x.alpha = randVals(r, n*x.betaW, 1), randVals(r, n*hv, 1)
	x.dt, x.a = randVals(r, hv, 0.5), randVals(r, hv, 0.3)
	for i := range x.a {
		x.a[i] = -float32(math.Abs(float64(x.a[i]))) - 0.05
	}
	x.dtT, x.aT = f32Tensor(tb, be, 1, hv, x.dt), f32Tensor(tb, be, 1, hv, x.a)
	return x
}

// call runs DeltaNet on the tokens [lo, hi) of this sequence as sequence
// seq of state; other, if not nil, interleaves its own tokens [olo, ohi) as
// sequence 1-seq. It returns this sequence's outputs.
func (x *deltaNetInputs) call(state backend.Tensor, seq int32, lo, hi int, other *deltaNetInputs, olo, ohi int) []float32 {
	p, cols, hv, dv := x.p, x.p.ConvChannels(), x.p.ValueHeads, x.p.ValueDim
	var bq, bb, ba []float32
	var pos, seqs []int32
	var mine []int
	add := func(y *deltaNetInputs, i int, s int32) {
		bq = append(bq, y.qkv[i*cols:(i+1)*cols]...)
		bb = append(bb, y.beta[i*y.betaW:(i+1)*y.betaW]...)
		ba = append(ba, y.alpha[i*hv:(i+1)*hv]...)
		pos, seqs = append(pos, int32(i)), append(seqs, s)
	}
	for i, o := lo, olo; i < hi || (other != nil && o < ohi); {
		if other != nil && o < ohi && (i >= hi || o%3 == 0) {
			add(other, o, 1-seq)
			o++
			continue
		}
		mine = append(mine, len(pos))
		add(x, i, seq)
		i++
	}
	n := len(pos)
	out := f32Tensor(x.tb, x.be, n, hv*dv, nil)
	poison := f32s(out)
	for i := range poison {
		poison[i] = float32(math.NaN())
	}
	x.be.DeltaNet(out, f32Tensor(x.tb, x.be, n, cols, bq), f32Tensor(x.tb, x.be, n, x.betaW, bb), f32Tensor(x.tb, x.be, n, hv, ba),
		x.dtT, x.aT, state, i32Tensor(x.tb, x.be, pos), i32Tensor(x.tb, x.be, seqs), p)
	all := f32s(out)
	got := make([]float32, 0, len(mine)*hv*dv)
	for _, r := range mine {
		got = append(got, all[r*hv*dv:(r+1)*hv*dv]...)
	}
	return got
}

// chunkStateMatrices is the delta-rule matrix (per value head, ValueDim rows
// of KeyDim) after n tokens, from a chunkwise state: M0 and the unfinished
// chunk's rows, in float64.
func chunkStateMatrices(p backend.DeltaNet, st []float32, n int) []float64 {
	dk, dv := p.KeyDim, p.ValueDim
	dv8 := (dv + 7) / 8 * 8
	per := p.StateSize() / p.ValueHeads
	rows := n % chunk
	out := make([]float64, p.ValueHeads*dv*dk)
	for j := 0; j < p.ValueHeads; j++ {
		h := st[j*per:]
		k, d, g := h[dv8*dk:], h[dv8*dk+chunk*dk:], h[dv8*dk+chunk*(dk+dv):]
		last := 0.0
		if rows > 0 {
			last = float64(g[rows-1])
		}
		for r := 0; r < dv; r++ {
			for c := 0; c < dk; c++ {
				m := 0.0
				if n >= chunk {
					m = math.Exp(last) * float64(h[(r/8)*dk*8+c*8+r%8])
				}
				for i := 0; i < rows; i++ {
					m += math.Exp(last-float64(g[i])) * float64(d[i*dv+r]) * float64(k[i*dk+c])
				}
				out[j*dv*dk+r*dk+c] = m
			}
		}
	}
	return out
}

func relErrChunk(got []float64, want []float32) float64 {
	var num, den float64
	for i, w := range want {
		num += (got[i] - float64(w)) * (got[i] - float64(w))
		den += float64(w) * float64(w)
	}
	return math.Sqrt(num / den)
}

func to64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// deltaNetShapes are awkward small shapes (a value dim not a multiple of
// 8), the arch test models' (qwen35 tiled, qwen3next grouped) and a Qwen
// 3.5's.
var deltaNetShapes = []backend.DeltaNet{
	{KeyHeads: 2, ValueHeads: 4, KeyDim: 16, ValueDim: 12, GroupedBA: true},
	{KeyHeads: 2, ValueHeads: 4, KeyDim: 32, ValueDim: 32, Tiled: true},
	{KeyHeads: 2, ValueHeads: 4, KeyDim: 32, ValueDim: 32, GroupedBA: true},
	{KeyHeads: 16, ValueHeads: 32, KeyDim: 128, ValueDim: 128, Tiled: true},
}

// The chunkwise DeltaNet agrees with the token-by-token recurrence on fresh
// random inputs, in one call from position 0, for lengths around the chunk
// length: outputs (poisoned first) and the state (rebuilt from M0 and the
// chunk's rows) within ‖chunk−rec‖/‖rec‖ ≤ 1e-5. The two sum in different
// orders (float64 sums of float32 products against float32 running sums) and
// decay by exp(ΣG) against Πexp(g): differences of float32 rounding, ~1e-6.
func TestDeltaNetChunkwiseMatchesRecurrence(t *testing.T) {
	for _, shape := range deltaNetShapes {
		for _, n := range []int{1, chunk - 1, chunk, chunk + 1, 3*chunk + 5} {
			if shape.ValueHeads > 4 && testing.Short() && n > chunk+1 {
				continue
			}
			p := shape
			p.Eps, p.Scale = 1e-6, 1/float32(math.Sqrt(float64(p.KeyDim)))
			chunked, byToken := New(2), New(2)
			byToken.DeltaNetByToken(true)
			x := newDeltaNetInputs(t, chunked, p, n, uint64(n))
			y := *x
			y.be = byToken
			y.dtT, y.aT = f32Tensor(t, byToken, 1, p.ValueHeads, x.dt), f32Tensor(t, byToken, 1, p.ValueHeads, x.a)
			r := rand.New(rand.NewPCG(5, 6))
			cs := f32Tensor(t, chunked, 1, p.StateSize(), randVals(r, p.StateSize(), 1)) // garbage: position 0 resets it
			rs := f32Tensor(t, byToken, 1, p.StateSize(), randVals(r, p.StateSize(), 1))
			got := x.call(cs, 0, 0, n, nil, 0, 0)
			want := y.call(rs, 0, 0, n, nil, 0, 0)
			what := fmt.Sprintf("%+v n %d", shape, n)
			e := relErrChunk(to64(got), want)
			require.LessOrEqual(t, e, 1e-5, what)
			m := f32s(rs)[:p.ValueHeads*p.ValueDim*p.KeyDim]
			es := relErrChunk(chunkStateMatrices(p, f32s(cs), n), m)
			require.LessOrEqual(t, es, 1e-5, what+" state")
			t.Logf("%s: output %.2g, state %.2g", what, e, es)
		}
	}
}

// A sequence's chunkwise outputs and state are bit-identical in one call,
// in calls split at positions that are not chunk boundaries (beside another
// sequence's tokens), and one token per call.
func TestDeltaNetChunkwiseBatchInvariant(t *testing.T) {
	shapes := deltaNetShapes[:3]
	shapes = append(shapes, backend.DeltaNet{KeyHeads: 1, ValueHeads: 2, KeyDim: 128, ValueDim: 128})
	const n = 3*chunk + 5
	for _, shape := range shapes {
		p := shape
		p.Eps, p.Scale = 1e-6, 1/float32(math.Sqrt(float64(p.KeyDim)))
		be := New(2)
		x := newDeltaNetInputs(t, be, p, n, 1)
		other := newDeltaNetInputs(t, be, p, n, 2)
		one := f32Tensor(t, be, 2, p.StateSize(), nil)
		whole := x.call(one, 0, 0, n, nil, 0, 0)

		split := f32Tensor(t, be, 2, p.StateSize(), nil)
		var parts []float32
		cuts := []int{0, 7, chunk + 3, chunk + 4, 2*chunk - 1, 3*chunk + 1, n}
		for i := 0; i+1 < len(cuts); i++ {
			parts = append(parts, x.call(split, 1, cuts[i], cuts[i+1], other, cuts[i], cuts[i+1])...)
		}
		require.Equal(t, whole, parts, "%+v: split at %v", shape, cuts)

		single := f32Tensor(t, be, 1, p.StateSize(), nil)
		var each []float32
		for i := 0; i < n; i++ {
			each = append(each, x.call(single, 0, i, i+1, nil, 0, 0)...)
		}
		require.Equal(t, whole, each, "%+v: token by token", shape)
		st := p.StateSize()
		require.Equal(t, f32s(one)[:st], f32s(split)[st:], "%+v: state after the split calls", shape)
		require.Equal(t, f32s(one)[:st], f32s(single), "%+v: state after token by token", shape)
	}
}

// BenchmarkDeltaNet is the op at a Qwen 3.5's sizes (16 key, 32 value heads
// of 128) on one thread: a 512-token prefill from position 0, and decoding
// one token at a time after it, token by token against chunkwise.
func BenchmarkDeltaNet(b *testing.B) {
	p := backend.DeltaNet{KeyHeads: 16, ValueHeads: 32, KeyDim: 128, ValueDim: 128, Tiled: true, Eps: 1e-6}
	p.Scale = 1 / float32(math.Sqrt(128))
	const n = 512
	for _, byToken := range []bool{true, false} {
		name := "chunkwise"
		if byToken {
			name = "bytoken"
		}
		be := New(1)
		be.DeltaNetByToken(byToken)
		x := newDeltaNetInputs(b, be, p, n, 1)
		hv, cols := p.ValueHeads, p.ConvChannels()
		state := f32Tensor(b, be, 1, p.StateSize(), nil)
		out := f32Tensor(b, be, n, hv*p.ValueDim, nil)
		qkv, beta := f32Tensor(b, be, n, cols, x.qkv), f32Tensor(b, be, n, hv, x.beta)
		alpha := f32Tensor(b, be, n, hv, x.alpha)
		pos := make([]int32, n)
		for i := range pos {
			pos[i] = int32(i)
		}
		posT, seqT := i32Tensor(b, be, pos), i32Tensor(b, be, make([]int32, n))
		b.Run("prefill512/"+name, func(b *testing.B) {
			start := processCPU()
			for b.Loop() {
				be.DeltaNet(out, qkv, beta, alpha, x.dtT, x.aT, state, posT, seqT, p)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n*hv), "ns/token/head")
			b.ReportMetric(float64(processCPU()-start)/float64(b.N*n*hv), "cpu-ns/token/head")
		})
		b.Run("decode/"+name, func(b *testing.B) {
			be.DeltaNet(out, qkv, beta, alpha, x.dtT, x.aT, state, posT, seqT, p)
			one := func(t backend.Tensor) backend.Tensor { return t.Slice(0, 1) }
			pos1, seq1 := i32Tensor(b, be, []int32{0}), i32Tensor(b, be, []int32{0})
			i, start := 0, processCPU()
			for b.Loop() {
				i32s(pos1)[0] = int32(n + i)
				be.DeltaNet(one(out), one(qkv), one(beta), one(alpha), x.dtT, x.aT, state, pos1, seq1, p)
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*hv), "ns/token/head")
			b.ReportMetric(float64(processCPU()-start)/float64(b.N*hv), "cpu-ns/token/head")
		})
	}
}
