package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// cacheRowsOf lays nt rows of hd values out as typ rows stride bytes apart
// (the slack poisoned) and returns them with the values as the rows hold
// them, dequantized.
func cacheRowsOf(t *testing.T, typ gguf.Type, vals []float32, nt, hd, stride int) ([]byte, []float32) {
	t.Helper()
	rb := typ.RowBytes(hd)
	b := make([]byte, (nt-1)*stride+rb)
	poisonBytes(b)
	held := make([]float32, nt*hd)
	f := mustFormat(t, typ)
	for r := 0; r < nt; r++ {
		f.Quantize(b[r*stride:r*stride+rb], vals[r*hd:(r+1)*hd])
		f.Dequantize(held[r*hd:(r+1)*hd], b[r*stride:r*stride+rb])
	}
	return b, held
}

// mixedCase is one AttnFlashMixedGroup call on fresh random inputs.
type mixedCase struct {
	kt, vt             gguf.Type
	heads, hd, nt      int
	q                  []float32
	k, v               []byte
	kHeld, vHeld       []float32
	kStride, vStride   int
	scores, ms, vs, rw []float32
	qDot               []byte
}

func newMixedCase(t *testing.T, rng *rand.Rand, kt, vt gguf.Type, heads, hd, nt int) *mixedCase {
	c := &mixedCase{kt: kt, vt: vt, heads: heads, hd: hd, nt: nt}
	c.q = randFloats(rng, heads*hd, -1, 1)
	kv := randFloats(rng, nt*hd, -1, 1)
	if nt > 3 {
		kv[3*hd] = 12 // a large score: a new maximum late
	}
	c.kStride, c.vStride = kt.RowBytes(hd)+2*rng.IntN(4), vt.RowBytes(hd)+2*rng.IntN(4)
	c.k, c.kHeld = cacheRowsOf(t, kt, kv, nt, hd, c.kStride)
	c.v, c.vHeld = cacheRowsOf(t, vt, randFloats(rng, nt*hd, -1, 1), nt, hd, c.vStride)
	n := heads * nt
	c.scores, c.ms, c.vs, c.rw = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, hd)
	c.qDot = make([]byte, 2*hd+gguf.TypeQ8_0.RowBytes(hd))
	return c
}

func (c *mixedCase) run(scale, softCap float32) []float32 {
	out := make([]float32, c.heads*c.hd)
	poisonFloats(out)
	AttnFlashMixedGroup(out, c.q, c.heads, c.kt, c.k, c.kStride, c.vt, c.v, c.vStride, c.nt, scale, softCap,
		c.scores, c.ms, c.vs, c.rw, c.qDot)
	return out
}

// With keys and values of one type the mixed kernel is the same-type
// kernels, bit for bit: AttnFlashF16RowsGroup's for F16 (the query rounded
// to F16 here as the CPU backend rounds it), AttnFlashQuantGroup's for Q8_0
// and Q4_0 (the query quantized to Q8_0), in any pairing of those two.
func TestAttnFlashMixedGroupIsTheSameTypeKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	quant := []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ4_0}
	for _, hd := range []int{32, 64, 128} {
		for _, nt := range []int{1, 5, 130} {
			for _, heads := range []int{1, 4} {
				c := newMixedCase(t, rng, gguf.TypeF16, gguf.TypeF16, heads, hd, nt)
				got := c.run(0.125, 0)
				want := make([]float32, heads*hd)
				qh := append([]float32(nil), c.q...)
				RoundToF16(qh)
				AttnFlashF16RowsGroup(want, qh, heads, c.k, c.kStride, c.v, c.vStride, nt, 0.125, 0,
					make([]float32, heads*nt), make([]float32, heads*nt), make([]float32, heads*nt))
				sameBits(t, fmt.Sprintf("f16/f16, hd %d, %d keys, %d heads", hd, nt, heads), got, want)

				for _, kt := range quant {
					for _, vt := range quant {
						c := newMixedCase(t, rng, kt, vt, heads, hd, nt)
						got := c.run(0.125, 30)
						q8 := make([]byte, heads*gguf.TypeQ8_0.RowBytes(hd))
						for h := 0; h < heads; h++ {
							QuantizeActivations(gguf.TypeQ8_0, q8[h*gguf.TypeQ8_0.RowBytes(hd):], c.q[h*hd:(h+1)*hd])
						}
						want := make([]float32, heads*hd)
						AttnFlashQuantGroup(want, q8, heads, kt, c.k, c.kStride, vt, c.v, c.vStride, nt, 0.125, 30,
							make([]float32, heads*nt), make([]float32, heads*nt), make([]float32, heads*nt), make([]float32, hd))
						sameBits(t, fmt.Sprintf("%v/%v, hd %d, %d keys, %d heads", kt, vt, hd, nt, heads), got, want)
					}
				}
			}
		}
	}
}

// attendRef is one query head's attention in float64 over the values the
// cache holds: softmax(scale·q·k) weighting the value rows.
func attendRef(q, k, v []float32, nt, hd int, scale float64) []float64 {
	scores := make([]float64, nt)
	top := math.Inf(-1)
	for i := range scores {
		for d := 0; d < hd; d++ {
			scores[i] += float64(q[d]) * float64(k[i*hd+d])
		}
		scores[i] *= scale
		top = max(top, scores[i])
	}
	out := make([]float64, hd)
	sum := 0.0
	for i, s := range scores {
		w := math.Exp(s - top)
		sum += w
		for d := range out {
			out[d] += w * float64(v[i*hd+d])
		}
	}
	for d := range out {
		out[d] /= sum
	}
	return out
}

// Keys and values of different types (F16, Q8_0, Q4_0 in every pairing)
// give attention over the values the cache holds: ||out-ref||/||ref|| under
// 1e-2 against a float64 reference. The error comes from the query's
// conversion to the keys' dot type (Q8_0 rounds each value to 1/127 of its
// block's largest; F16 to 2^-11) and the F16 accumulator (2^-11 a key):
// measured at most 5e-3.
func TestAttnFlashMixedGroupMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	types := []gguf.Type{gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0}
	worst := 0.0
	for _, kt := range types {
		for _, vt := range types {
			for _, hd := range []int{32, 64, 96} {
				for _, nt := range []int{1, 7, 200} {
					heads := 2
					c := newMixedCase(t, rng, kt, vt, heads, hd, nt)
					scale := 1 / math.Sqrt(float64(hd))
					got := c.run(float32(scale), 0)
					var num, den float64
					for h := 0; h < heads; h++ {
						ref := attendRef(c.q[h*hd:(h+1)*hd], c.kHeld, c.vHeld, nt, hd, scale)
						for d, r := range ref {
							e := float64(got[h*hd+d]) - r
							num += e * e
							den += r * r
						}
					}
					rel := math.Sqrt(num / den)
					worst = max(worst, rel)
					if rel > 1e-2 || math.IsNaN(rel) {
						t.Fatalf("%v keys, %v values, hd %d, %d keys: relative error %.3g", kt, vt, hd, nt, rel)
					}
				}
			}
		}
	}
	t.Logf("largest relative error %.3g", worst)
}
