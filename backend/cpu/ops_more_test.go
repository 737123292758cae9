package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// The ops added for more architectures against their float64 definitions,
// at awkward sizes (one value, one row, odd column counts). Tolerances as in
// ops_test.go: 1e-7 for one float32 operation per value (rounding is at most
// 2^-24 relative), 1e-6 for short chains of float32 operations.

var moreShapes = [][2]int{{1, 1}, {1, 7}, {7, 33}, {3, 300}}

func gelu64(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

func TestLayerNormMatchesFloat64(t *testing.T) {
	b := New(2)
	defer b.Close()
	rng := rand.New(rand.NewPCG(11, 12))
	for _, sh := range moreShapes {
		rows, cols := sh[0], sh[1]
		x, xs := randomF32(t, b, rng, rows, cols)
		for i := range xs { // a common offset, so centring matters
			xs[i] += 3
			f32s(x)[i] = xs[i]
		}
		w, ws := randomF32(t, b, rng, 1, cols)
		bias, bs := randomF32(t, b, rng, 1, cols)
		want := make([]float64, rows*cols)
		for r := 0; r < rows; r++ {
			row := xs[r*cols : (r+1)*cols]
			var mean, variance float64
			for _, v := range row {
				mean += float64(v)
			}
			mean /= float64(cols)
			for _, v := range row {
				variance += (float64(v) - mean) * (float64(v) - mean)
			}
			variance /= float64(cols)
			for c, v := range row {
				want[r*cols+c] = (float64(v)-mean)/math.Sqrt(variance+1e-5)*float64(ws[c]) + float64(bs[c])
			}
		}
		dst := poisoned(t, b, rows, cols)
		b.LayerNorm(dst, x, w, bias, 1e-5)
		require.Less(t, relErr(t, f32s(dst), want), 1e-6, "%dx%d", rows, cols)
		b.LayerNorm(x, x, w, bias, 1e-5) // in place
		require.Less(t, relErr(t, f32s(x), want), 1e-6, "in place %dx%d", rows, cols)
	}
}

func TestAddRowScaleMatchFloat64(t *testing.T) {
	b := New(2)
	defer b.Close()
	rng := rand.New(rand.NewPCG(13, 14))
	for _, sh := range moreShapes {
		rows, cols := sh[0], sh[1]
		x, xs := randomF32(t, b, rng, rows, cols)
		// The row is a column slice of a fused bias, as phi3's q/k/v biases are.
		fused, fs := randomF32(t, b, rng, 1, 3*cols)
		row, rs := fused.Columns(cols, 2*cols), fs[cols:2*cols]
		want := make([]float64, rows*cols)
		for i := range want {
			want[i] = float64(xs[i]) + float64(rs[i%cols])
		}
		dst := poisoned(t, b, rows, cols)
		b.AddRow(dst, x, row)
		require.Less(t, relErr(t, f32s(dst), want), 1e-7, "AddRow %dx%d", rows, cols)

		const s = -0.37
		for i := range want {
			want[i] = float64(xs[i]) * float64(float32(s))
		}
		dst = poisoned(t, b, rows, cols)
		b.Scale(dst, x, s)
		require.Less(t, relErr(t, f32s(dst), want), 1e-7, "Scale %dx%d", rows, cols)

		// In place: x = (x + row) * s.
		b.AddRow(x, x, row)
		b.Scale(x, x, s)
		for i := range want {
			want[i] = (float64(xs[i]) + float64(rs[i%cols])) * float64(float32(s))
		}
		require.Less(t, relErr(t, f32s(x), want), 1e-6, "in place %dx%d", rows, cols)
	}
}

func TestGELUGeGLUSoftCapMatchFloat64(t *testing.T) {
	b := New(2)
	defer b.Close()
	rng := rand.New(rand.NewPCG(15, 16))
	for _, sh := range moreShapes {
		rows, cols := sh[0], sh[1]
		what := fmt.Sprintf("%dx%d", rows, cols)
		x, xs := randomF32(t, b, rng, rows, cols)
		for i := range xs { // wide enough to reach gelu's flat tails
			xs[i] *= 3
			f32s(x)[i] = xs[i]
		}
		up, us := randomF32(t, b, rng, rows, cols)
		want := make([]float64, rows*cols)

		for i := range want {
			want[i] = gelu64(float64(xs[i]))
		}
		dst := poisoned(t, b, rows, cols)
		b.GELU(dst, x)
		// gelu goes through half precision as in ggml (input and output rounded
		// to F16: 2^-11 relative each), so the bound is that of F16 rounding.
		require.Less(t, relErr(t, f32s(dst), want), 1e-3, "GELU %s", what)

		for i := range want {
			want[i] = gelu64(float64(xs[i])) * float64(us[i])
		}
		dst = poisoned(t, b, rows, cols)
		b.GeGLU(dst, x, up)
		require.Less(t, relErr(t, f32s(dst), want), 1e-3, "GeGLU %s", what)

		for _, c := range []float32{30, 1.5} {
			for i := range want {
				want[i] = float64(c) * math.Tanh(float64(xs[i])/float64(c))
			}
			dst = poisoned(t, b, rows, cols)
			b.SoftCap(dst, x, c)
			require.Less(t, relErr(t, f32s(dst), want), 1e-6, "SoftCap %v %s", c, what)
		}

		// In place: gate = gelu(gate) * up, then capped.
		for i := range want {
			want[i] = 2 * math.Tanh(gelu64(float64(xs[i]))*float64(us[i])/2)
		}
		b.GeGLU(x, x, up)
		b.SoftCap(x, x, 2)
		require.Less(t, relErr(t, f32s(x), want), 1e-3, "in place %s", what)
	}
}

// TestAttendWindowSoftCapMatchesFloat64: sliding windows smaller than, equal
// to and larger than the positions seen, with and without a soft cap that
// bites (scores of order 1, cap 0.7), against a float64 reference over the
// cache's values; tolerances as TestAttendMatchesFloat64.
func TestAttendWindowSoftCapMatchesFloat64(t *testing.T) {
	b := New(2)
	defer b.Close()
	rng := rand.New(rand.NewPCG(17, 18))
	const heads, kvHeads, hd, ctx, seqs = 4, 2, 8, 10, 2
	pos, seq := []int32{0, 3, 5, 9, 9}, []int32{1, 0, 1, 0, 1}
	for _, cacheType := range []gguf.Type{gguf.TypeF32, gguf.TypeF16} {
		kSrc, _ := randomF32(t, b, rng, seqs*ctx, kvHeads*hd)
		vSrc, _ := randomF32(t, b, rng, seqs*ctx, kvHeads*hd)
		kc := newTensor(t, b, cacheType, seqs*ctx, kvHeads*hd)
		vc := newTensor(t, b, cacheType, seqs*ctx, kvHeads*hd)
		rows := make([]int32, seqs*ctx)
		for i := range rows {
			rows[i] = int32(i)
		}
		b.KVWrite(kc, kSrc, ints(t, b, rows...))
		b.KVWrite(vc, vSrc, ints(t, b, rows...))
		kf, vf := make([]float32, seqs*ctx*kvHeads*hd), make([]float32, seqs*ctx*kvHeads*hd)
		kernels.DequantizeRow(cacheType, kf, raw(kc))
		kernels.DequantizeRow(cacheType, vf, raw(vc))
		q, qs := randomF32(t, b, rng, len(pos), heads*hd)

		for _, window := range []int{0, 1, 3, 4, 6, 10, 50} {
			for _, softCap := range []float32{0, 0.7} {
				p := backend.Attention{Heads: heads, KVHeads: kvHeads, HeadDim: hd, Context: ctx,
					Scale: 1 / float32(math.Sqrt(hd)), SoftCap: softCap, Window: window}
				dst := poisoned(t, b, len(pos), heads*hd)
				b.Attend(dst, q, kc, vc, ints(t, b, pos...), ints(t, b, seq...), p)
				want := attend64(qs, kf, vf, pos, seq, p)
				tol := 1e-6
				if cacheType == gguf.TypeF16 {
					tol = 2e-3 // q and the weights rounded to F16, as ggml does
				}
				require.Less(t, relErr(t, f32s(dst), want), tol, "cache %v, %+v", cacheType, p)
			}
		}
	}
}

// attend64 is Attend's definition in float64 over cache values kf, vf.
func attend64(qs, kf, vf []float32, pos, seq []int32, p backend.Attention) []float64 {
	hd, width, kvWidth := p.HeadDim, p.Heads*p.HeadDim, p.KVHeads*p.HeadDim
	want := make([]float64, len(pos)*width)
	for i := range pos {
		first := 0
		if p.Window > 0 {
			first = max(0, int(pos[i])+1-p.Window)
		}
		for h := 0; h < p.Heads; h++ {
			kvh := h / (p.Heads / p.KVHeads)
			var scores []float64
			maxS := math.Inf(-1)
			for tp := first; tp <= int(pos[i]); tp++ {
				r := int(seq[i])*p.Context + tp
				var s float64
				for d := 0; d < hd; d++ {
					s += float64(qs[i*width+h*hd+d]) * float64(kf[r*kvWidth+kvh*hd+d])
				}
				s *= float64(p.Scale)
				if p.SoftCap > 0 {
					s = float64(p.SoftCap) * math.Tanh(s/float64(p.SoftCap))
				}
				scores = append(scores, s)
				maxS = math.Max(maxS, s)
			}
			var sum float64
			for j, s := range scores {
				scores[j] = math.Exp(s - maxS)
				sum += scores[j]
			}
			for j, s := range scores {
				r := int(seq[i])*p.Context + first + j
				for d := 0; d < hd; d++ {
					want[i*width+h*hd+d] += s / sum * float64(vf[r*kvWidth+kvh*hd+d])
				}
			}
		}
	}
	return want
}

// The table of geluTanh holds, for every F16 input, gelu computed at that
// input and rounded to F16; between ±10 geluTanh is the table at the
// F16-rounded input.
func TestGELUTableMatchesDirect(t *testing.T) {
	direct := func(x float32) float32 {
		switch {
		case x <= -10:
			return 0
		case x >= 10:
			return x
		}
		h := kernels.F16ToF32(kernels.F32ToF16(x))
		return kernels.F16ToF32(kernels.F32ToF16(geluExact(h)))
	}
	for h := 0; h < 1<<16; h++ {
		x := kernels.F16ToF32(uint16(h))
		got, want := geluTanh(x), direct(x)
		if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
			t.Fatalf("gelu(%g) (half %#04x) = %g, want %g", x, h, got, want)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		x := float32(rng.NormFloat64() * 4)
		if got, want := geluTanh(x), direct(x); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("gelu(%g) = %g, want %g", x, got, want)
		}
	}
}

// GELU over a tensor (its values rounded to F16 in vector chunks) is
// geluTanh of each value bit for bit, NaNs, infinities, subnormals and the
// ±10 edges included, on sizes that leave partial chunks.
func TestGELUMatchesScalar(t *testing.T) {
	b := New(2)
	defer b.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, 1e-8, -10, 10, -9.999999, 9.999999,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 65504, 65520, -70000, 0.5, -0.5}
	for _, sh := range [][2]int{{1, 1}, {3, 17}, {5, 300}, {7, 3072}} {
		rows, cols := sh[0], sh[1]
		x, xs := randomF32(t, b, rng, rows, cols)
		for i := range xs {
			xs[i] *= 5
			if i%7 == 3 {
				xs[i] = special[(i/7)%len(special)]
			}
			f32s(x)[i] = xs[i]
		}
		dst := poisoned(t, b, rows, cols)
		b.GELU(dst, x)
		for i, got := range f32s(dst) {
			want := geluTanh(xs[i])
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("%dx%d: gelu(%g) = %g (%#x), want %g (%#x)", rows, cols, xs[i], got, math.Float32bits(got), want, math.Float32bits(want))
			}
		}
	}
}
