package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// f16Rows lays vals (rows of hd values) out as F16 rows stride bytes apart,
// the slack between rows filled with F16 NaN bits that must not be read.
func f16Rows(vals []float32, rows, hd, stride int) []byte {
	b := make([]byte, (rows-1)*stride+2*hd)
	for i := range b {
		b[i] = 0x7e
	}
	for r := 0; r < rows; r++ {
		quantizeF16(b[r*stride:r*stride+2*hd], vals[r*hd:(r+1)*hd])
	}
	return b
}

// withoutFastRows runs f with the F16-row kernels' Go twins.
func withoutFastRows(f func()) {
	s, a := attnScoresF16RowsFast, attnAccumulateF16RowsFast
	attnScoresF16RowsFast, attnAccumulateF16RowsFast = nil, nil
	defer func() { attnScoresF16RowsFast, attnAccumulateF16RowsFast = s, a }()
	f()
}

// AttnFlashF16Rows, assembly or twins, gives AttnFlashF16's bits on the
// converted rows, at head sizes on and off the kernels' 16 and 64, one key
// and many, outputs poisoned first.
func TestAttnFlashF16RowsMatchesFlash(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	for _, hd := range []int{8, 16, 48, 64, 80, 128} {
		for _, nt := range []int{1, 2, 17, 100, 300} {
			stride := 2*hd + 2*rng.IntN(3)*16
			q := randF16s(rng, hd, 1)
			kv, vv := randF16s(rng, nt*hd, 1), randF16s(rng, nt*hd, 1)
			if nt > 3 {
				kv[3*hd] = 40 // a large score: a new maximum late
			}
			k, v := f16Rows(kv, nt, hd, stride), f16Rows(vv, nt, hd, stride)
			want := make([]float32, hd)
			scores, ms, vs := make([]float32, nt), make([]float32, nt), make([]float32, nt)
			AttnFlashF16(want, q, kv, hd, vv, hd, nt, 0.125, 0, scores, ms, vs)
			for _, fast := range []bool{true, false} {
				got := make([]float32, hd)
				poisonFloats(got)
				run := func() { AttnFlashF16Rows(got, q, k, stride, v, stride, nt, 0.125, 0, scores, ms, vs) }
				if fast {
					run()
				} else {
					withoutFastRows(run)
				}
				sameBits(t, fmt.Sprintf("hd %d, %d keys, fast %v", hd, nt, fast), got, want)
			}
		}
	}
}

// The F16-row kernels give their twins' bits on any F16 bits (NaNs,
// infinities, subnormals) and on any factors, NaN among them.
func TestFlashRowKernelsMatchTwins(t *testing.T) {
	if attnScoresF16RowsFast == nil {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(53, 54))
	for _, hd := range []int{16, 48, 64, 128, 192} {
		for _, nt := range []int{1, 3, 17, 64} {
			stride := 2*hd + 2*rng.IntN(3)*8
			raw := func() []byte {
				b := make([]byte, (nt-1)*stride+2*hd)
				for i := range b {
					b[i] = byte(rng.Uint32())
				}
				return b
			}
			k, v := raw(), raw()
			q := randBitsF32(rng, hd)
			if hd%64 == 0 {
				want, got := make([]float32, nt), make([]float32, nt)
				poisonFloats(got)
				attnScoresF16RowsGo(want, q, k, stride)
				attnScoresF16RowsFast(&got[0], &q[0], &k[0], stride, nt, hd)
				for i := range want {
					if !sameFloat(got[i], want[i]) {
						t.Fatalf("scores hd %d, %d keys: [%d] = %g, twin %g", hd, nt, i, got[i], want[i])
					}
				}
			}
			ms, vs := randBitsF32(rng, nt), randBitsF32(rng, nt)
			for i := range ms {
				if rng.IntN(2) == 0 {
					ms[i] = 1
				}
			}
			want, got := make([]float32, hd), make([]float32, hd)
			poisonFloats(got)
			attnAccumulateF16RowsGo(want, ms, vs, v, stride)
			clear(got)
			attnAccumulateF16RowsFast(&got[0], &ms[0], &vs[0], &v[0], stride, nt, hd)
			for i := range want {
				if !sameFloat(got[i], want[i]) {
					t.Fatalf("accumulate hd %d, %d keys: [%d] = %g, twin %g", hd, nt, i, got[i], want[i])
				}
			}
		}
	}
}

// BenchmarkAttnFlashF16Rows times one query head over 4096 keys of 64 (a KV
// cache row of 256 values, TinyLlama's), in place and through a float32
// copy of the head as AttnFlashF16 needs it.
func BenchmarkAttnFlashF16Rows(b *testing.B) {
	const hd, nt, stride = 64, 4096, 2 * 256
	rng := rand.New(rand.NewPCG(1, 2))
	q := randF16s(rng, hd, 1)
	k, v := f16Rows(randF16s(rng, nt*hd, 1), nt, hd, stride), f16Rows(randF16s(rng, nt*hd, 1), nt, hd, stride)
	out, scores, ms, vs := make([]float32, hd), make([]float32, nt), make([]float32, nt), make([]float32, nt)
	kf, vf := make([]float32, nt*hd), make([]float32, nt*hd)
	for _, inPlace := range []bool{true, false} {
		b.Run(map[bool]string{true: "in-place", false: "copy"}[inPlace], func(b *testing.B) {
			start, cpu := time.Now(), processCPU()
			defer reportCPU(b, cpu)
			for b.Loop() {
				if inPlace {
					AttnFlashF16Rows(out, q, k, stride, v, stride, nt, 0.125, 0, scores, ms, vs)
					continue
				}
				F16RowsToF32(kf, k, nt, hd, stride)
				F16RowsToF32(vf, v, nt, hd, stride)
				AttnFlashF16(out, q, kf, hd, vf, hd, nt, 0.125, 0, scores, ms, vs)
			}
			b.ReportMetric(float64(nt*b.N)/time.Since(start).Seconds()/1e6, "Mkeys/s")
		})
	}
}

// A group of heads over shared keys and values gives each head
// AttnFlashF16Rows' bits, with key counts around the block size.
func TestAttnFlashF16RowsGroupMatchesHeads(t *testing.T) {
	rng := rand.New(rand.NewPCG(55, 56))
	for _, heads := range []int{1, 3, 8} {
		for _, hd := range []int{16, 64, 80} {
			for _, nt := range []int{1, 17, flashBlock, flashBlock + 1, 300} {
				stride := 2*hd + 2*rng.IntN(3)*16
				q := randF16s(rng, heads*hd, 1)
				kv, vv := randF16s(rng, nt*hd, 1), randF16s(rng, nt*hd, 1)
				if nt > 200 {
					kv[200*hd] = 40 // a new maximum in a later block
				}
				k, v := f16Rows(kv, nt, hd, stride), f16Rows(vv, nt, hd, stride)
				want := make([]float32, heads*hd)
				scores, ms, vs := make([]float32, heads*nt), make([]float32, heads*nt), make([]float32, heads*nt)
				for j := 0; j < heads; j++ {
					AttnFlashF16Rows(want[j*hd:(j+1)*hd], q[j*hd:(j+1)*hd], k, stride, v, stride, nt, 0.125, 0, scores, ms, vs)
				}
				for _, fast := range []bool{true, false} {
					got := make([]float32, heads*hd)
					poisonFloats(got)
					poisonFloats(scores)
					run := func() { AttnFlashF16RowsGroup(got, q, heads, k, stride, v, stride, nt, 0.125, 0, scores, ms, vs) }
					if fast {
						run()
					} else {
						withoutFastRows(run)
					}
					sameBits(t, fmt.Sprintf("%d heads of %d, %d keys, fast %v", heads, hd, nt, fast), got, want)
				}
			}
		}
	}
}

// BenchmarkAttnFlashF16RowsGroup times TinyLlama's group of 8 query heads
// of 64 over 4096 keys (rows of a 256-value KV cache): one head at a time,
// and as a group taking the keys in blocks.
func BenchmarkAttnFlashF16RowsGroup(b *testing.B) {
	const heads, hd, nt, stride = 8, 64, 4096, 2 * 256
	rng := rand.New(rand.NewPCG(1, 2))
	q := randF16s(rng, heads*hd, 1)
	k, v := f16Rows(randF16s(rng, nt*hd, 1), nt, hd, stride), f16Rows(randF16s(rng, nt*hd, 1), nt, hd, stride)
	out, scores, ms, vs := make([]float32, heads*hd), make([]float32, heads*nt), make([]float32, heads*nt), make([]float32, heads*nt)
	for _, grouped := range []bool{true, false} {
		b.Run(map[bool]string{true: "group", false: "heads"}[grouped], func(b *testing.B) {
			start, cpu := time.Now(), processCPU()
			defer reportCPU(b, cpu)
			for b.Loop() {
				if grouped {
					AttnFlashF16RowsGroup(out, q, heads, k, stride, v, stride, nt, 0.125, 0, scores, ms, vs)
					continue
				}
				for j := 0; j < heads; j++ {
					AttnFlashF16Rows(out[j*hd:(j+1)*hd], q[j*hd:(j+1)*hd], k, stride, v, stride, nt, 0.125, 0, scores, ms, vs)
				}
			}
			b.ReportMetric(float64(heads*nt*b.N)/time.Since(start).Seconds()/1e6, "Mkeys/s")
		})
	}
}
