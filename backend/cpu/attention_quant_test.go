package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// dequantizedCopy is an F32 cache holding exactly the values of the
// quantized cache c.
func dequantizedCopy(t *testing.T, b *Backend, c backend.Tensor) backend.Tensor {
	f := newTensor(t, b, gguf.TypeF32, c.Rows, c.Cols)
	kernels.DequantizeRow(c.Type, f32s(f), raw(c))
	return f
}

// relErrF32 is ||got-want|| / ||want||.
func relErrF32(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / den)
}

// A quantized cache's attention (llama.cpp's flash attention with the query
// quantized to Q8_0) is attention over the cache's dequantized values up to
// the query's quantization: ||out-ref||/||ref|| under 2e-2, where Q8_0's
// rounding of q (at most 1/254 of a block's largest value per element)
// moves unit-variance scores by about 1%; Q4_0 and Q8_0 alike, since the
// reference holds the same dequantized keys and values. Awkward sizes: heads
// of 96 (three blocks), 6 query heads on 2 KV heads, 77 positions, with and
// without a sliding window and a soft cap.
func TestAttendQuantizedIsAttentionOverItsValues(t *testing.T) {
	b := New(3)
	defer b.Close()
	for _, typ := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ4_0} {
		for _, tc := range []struct {
			window  int
			softCap float32
		}{{0, 0}, {20, 0}, {0, 3}} {
			p := backend.Attention{Heads: 6, KVHeads: 2, HeadDim: 96, Context: 77, Scale: 0.1,
				Window: tc.window, SoftCap: tc.softCap}
			positions := []int32{76, 0, 31, 5, 40}
			f := newAttendFixture(t, b, typ, p, len(positions))
			kf, vf := dequantizedCopy(t, b, f.kc), dequantizedCopy(t, b, f.vc)
			pos, seq := ints(t, b, positions...), ints(t, b, 0, 0, 0, 0, 0)
			got := poisoned(t, b, len(positions), p.Heads*p.HeadDim)
			want := poisoned(t, b, len(positions), p.Heads*p.HeadDim)
			b.Attend(got, f.q, f.kc, f.vc, pos, seq, p)
			b.Attend(want, f.q, kf, vf, pos, seq, p)
			name := fmt.Sprintf("%v window %d cap %v", typ, tc.window, tc.softCap)
			e := relErrF32(f32s(got), f32s(want))
			t.Logf("%s: relative error %.3g", name, e)
			if !(e < 2e-2) {
				t.Errorf("%s: relative error %.3g", name, e)
			}
		}
	}
}

// Heads smaller than a block (stories260K: 4 KV heads of 8 values in one
// 32-value block) read their values out of the shared blocks and take the
// F32 path: the same bits as an F32 cache of the dequantized values.
func TestAttendQuantizedSubBlockHeads(t *testing.T) {
	b := New(2)
	defer b.Close()
	for _, typ := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ4_0} {
		p := backend.Attention{Heads: 8, KVHeads: 4, HeadDim: 8, Context: 45, Scale: 0.35}
		positions := []int32{44, 3, 17}
		f := newAttendFixture(t, b, typ, p, len(positions))
		kf, vf := dequantizedCopy(t, b, f.kc), dequantizedCopy(t, b, f.vc)
		pos, seq := ints(t, b, positions...), ints(t, b, 0, 0, 0)
		got := poisoned(t, b, len(positions), p.Heads*p.HeadDim)
		want := poisoned(t, b, len(positions), p.Heads*p.HeadDim)
		b.Attend(got, f.q, f.kc, f.vc, pos, seq, p)
		b.Attend(want, f.q, kf, vf, pos, seq, p)
		g, w := f32s(got), f32s(want)
		for i := range w {
			if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
				t.Fatalf("%v: value %d: %v, the F32 cache %v", typ, i, g[i], w[i])
			}
		}
	}
}

// A row's quantized flash attention is the same bits alone and in a batch,
// whatever the thread count.
func TestAttendQuantizedIsBatchInvariant(t *testing.T) {
	for _, threads := range []int{1, 3} {
		b := New(threads)
		p := backend.Attention{Heads: 4, KVHeads: 2, HeadDim: 64, Context: 70, Scale: 0.125}
		positions := []int32{69, 0, 33, 7}
		f := newAttendFixture(t, b, gguf.TypeQ4_0, p, len(positions))
		all := poisoned(t, b, len(positions), p.Heads*p.HeadDim)
		b.Attend(all, f.q, f.kc, f.vc, ints(t, b, positions...), ints(t, b, 0, 0, 0, 0), p)
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

// KVWrite quantizes each row with ggml's reference quantizer, block for
// block along the row: reading the cache back gives Dequantize(Quantize(row)).
func TestKVWriteQuantized(t *testing.T) {
	b := New(1)
	defer b.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, typ := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ4_0} {
		cache := newTensor(t, b, typ, 9, 96)
		for i := range raw(cache) {
			raw(cache)[i] = 0xa5
		}
		src := newTensor(t, b, gguf.TypeF32, 3, 96)
		for i, v := 0, f32s(src); i < len(v); i++ {
			v[i] = float32(rng.NormFloat64() * 3)
		}
		b.KVWrite(cache, src, ints(t, b, 8, 0, 4))
		want := make([]byte, typ.RowBytes(96))
		for i, r := range []int{8, 0, 4} {
			kernels.QuantizeRow(typ, want, f32s(src)[i*96:(i+1)*96])
			if got := raw(cache.Slice(r, r+1)); string(got) != string(want) {
				t.Fatalf("%v: row %d differs from QuantizeRow", typ, r)
			}
		}
	}
}

// The 110M shape, one token decoded at position 2047, beside
// BenchmarkAttendF16Decode.
func BenchmarkAttendQ8_0Decode(b *testing.B) { benchAttend(b, gguf.TypeQ8_0, 1, 2048) }
func BenchmarkAttendQ4_0Decode(b *testing.B) { benchAttend(b, gguf.TypeQ4_0, 1, 2048) }

// Keys and values of different types (llama.cpp's -ctk and -ctv, every
// pairing of F32, F16, Q8_0 and Q4_0) give attention over the values the
// caches hold, as an F32 cache of them computes it: ||out-ref||/||ref||
// under 2e-2, the quantized cache's bound (the query's conversion to the
// keys' dot type, an F16 accumulator for F16 values), for heads of whole
// blocks (the flash kernels) and of 8 values (the converted rows). And a row
// is the same bits alone and in the batch.
func TestAttendMixedKeyValueTypes(t *testing.T) {
	b := New(3)
	defer b.Close()
	types := []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0}
	for _, p := range []backend.Attention{
		{Heads: 6, KVHeads: 2, HeadDim: 64, Context: 77, Scale: 0.125},
		{Heads: 8, KVHeads: 4, HeadDim: 8, Context: 45, Scale: 0.35, SoftCap: 3},
	} {
		positions := []int32{int32(p.Context - 1), 0, 31, 5}
		fixtures := map[gguf.Type]attendFixture{}
		for _, typ := range types {
			fixtures[typ] = newAttendFixture(t, b, typ, p, len(positions)) // one seed: the same q, keys and values
		}
		pos, seq := ints(t, b, positions...), ints(t, b, 0, 0, 0, 0)
		for _, kt := range types {
			for _, vt := range types {
				if kt == vt {
					continue
				}
				kc, vc, q := fixtures[kt].kc, fixtures[vt].vc, fixtures[kt].q
				got := poisoned(t, b, len(positions), p.Heads*p.HeadDim)
				want := poisoned(t, b, len(positions), p.Heads*p.HeadDim)
				b.Attend(got, q, kc, vc, pos, seq, p)
				b.Attend(want, q, dequantizedCopy(t, b, kc), dequantizedCopy(t, b, vc), pos, seq, p)
				name := fmt.Sprintf("head %d, %v keys, %v values", p.HeadDim, kt, vt)
				if e := relErrF32(f32s(got), f32s(want)); !(e < 2e-2) {
					t.Errorf("%s: relative error %.3g", name, e)
				}
				for i, at := range positions {
					one := poisoned(t, b, 1, p.Heads*p.HeadDim)
					b.Attend(one, q.Slice(i, i+1), kc, vc, ints(t, b, at), ints(t, b, 0), p)
					g, w := f32s(one), f32s(got.Slice(i, i+1))
					for d := range w {
						if math.Float32bits(g[d]) != math.Float32bits(w[d]) {
							t.Fatalf("%s, position %d, value %d: alone %v, in the batch %v", name, at, d, g[d], w[d])
						}
					}
				}
			}
		}
	}
}
