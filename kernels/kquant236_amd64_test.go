package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// kquant236Twins are the Go definitions the assembly kernels must match.
var kquant236Twins = map[gguf.Type]func(w, a []byte, n int) float32{
	gguf.TypeQ6_K: dotQ6_K,
	gguf.TypeQ3_K: dotQ3_K,
	gguf.TypeQ2_K: dotQ2_K,
}

// kq236Mode is how test blocks are made: quantized random values, random
// bytes, or bytes of extreme values only (max scales, levels at both ends,
// activations −128 and 127), to catch int16 saturation.
type kq236Mode int

const (
	kq236Quantized kq236Mode = iota
	kq236Random
	kq236Extreme
)

func (m kq236Mode) String() string { return [...]string{"quantized", "random", "extreme"}[m] }

// kq236Weights makes rows weight rows of nb blocks of type typ, stride apart.
func kq236Weights(rng *rand.Rand, typ gguf.Type, mode kq236Mode, rows, nb, stride int) []byte {
	bs := typ.BlockBytes()
	w := make([]byte, (rows-1)*stride+nb*bs+1)
	for r := 0; r < rows; r++ {
		row := w[r*stride : r*stride+nb*bs]
		switch mode {
		case kq236Quantized:
			QuantizeRow(typ, row, randFloats(rng, nb*qkK, -1, 1))
			continue
		case kq236Random:
			for i := range row {
				row[i] = byte(rng.Uint32())
			}
		case kq236Extreme:
			ext := []byte{0, 0xff, 0x80, 0x7f}
			for i := range row {
				row[i] = ext[rng.IntN(len(ext))]
			}
		}
		// Finite scales: d (and Q2_K's dmin) at the end of the block.
		nd := 1
		if typ == gguf.TypeQ2_K {
			nd = 2
		}
		for b := 0; b < nb; b++ {
			for k := 0; k < nd; k++ {
				v := float32(rng.Float64()*2-1) * 0.01
				if mode == kq236Extreme {
					v = float32(1 + k)
				}
				binary.LittleEndian.PutUint16(row[(b+1)*bs-2*(nd-k):], F32ToF16(v))
			}
		}
	}
	return w
}

// kq236Acts makes rows Q8_K activation rows of nb blocks, stride apart, with
// group sums that are their quants'.
func kq236Acts(rng *rand.Rand, mode kq236Mode, rows, nb, stride int) []byte {
	a := make([]byte, (rows-1)*stride+nb*blockQ8_K+1)
	for r := 0; r < rows; r++ {
		row := a[r*stride : r*stride+nb*blockQ8_K]
		if mode == kq236Quantized {
			QuantizeActivations(gguf.TypeQ8_K, row, randFloats(rng, nb*qkK, -2, 2))
			continue
		}
		for b := 0; b < nb; b++ {
			blk := row[b*blockQ8_K : (b+1)*blockQ8_K]
			d := float32(rng.Float64()*2-1) * 0.02
			if mode == kq236Extreme {
				d = 1
			}
			putF32(blk, d)
			for g := 0; g < qkK/16; g++ {
				var s int16
				for j := 0; j < 16; j++ {
					q := int8(rng.Uint32())
					if mode == kq236Extreme {
						q = [2]int8{-128, 127}[rng.IntN(2)]
					}
					blk[q8_KQsOffs+16*g+j] = byte(q)
					s += int16(q)
				}
				binary.LittleEndian.PutUint16(blk[q8_KBsumsOffs+2*g:], uint16(s))
			}
		}
	}
	return a
}

func TestKQuant236Kernels(t *testing.T) {
	type set struct {
		isa string
		k   kquant236Kernel
	}
	var sets []set
	for _, k := range kquant236AVX512 {
		if hasAVX512KQ236 {
			sets = append(sets, set{"AVX512", k})
		}
	}
	for _, k := range kquant236AVX2 {
		if hasAVX2 {
			sets = append(sets, set{"AVX2", k})
		}
	}
	if len(sets) == 0 {
		t.Skip("no AVX2")
	}
	for _, s := range sets {
		k, isa := s.k, s.isa
		twin := kquant236Twins[k.t]
		for _, mode := range []kq236Mode{kq236Quantized, kq236Random, kq236Extreme} {
			t.Run(fmt.Sprintf("%s/%v/%v", isa, k.t, mode), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(k.t), uint64(mode)))
				for nb := 0; nb <= 20; nb++ {
					n := nb * qkK
					wRow, aRow := k.t.RowBytes(n), gguf.TypeQ8_K.RowBytes(n)
					wStride, aStride, oStride := wRow+rng.IntN(3)*3, aRow+rng.IntN(3)*5, 4+rng.IntN(3)
					w := kq236Weights(rng, k.t, mode, 4, nb, wStride)
					a := kq236Acts(rng, mode, 4, nb, aStride)
					want := func(r, i int) float32 {
						return twin(w[r*wStride:r*wStride+wRow], a[i*aStride:i*aStride+aRow], n)
					}
					out := make([]float32, 4*oStride)
					poisonFloats(out)
					w0, a0 := &w[0], &a[0]
					k.x4(w0, wStride, a0, aStride, nb, &out[0], oStride)
					for i := 0; i < 4; i++ {
						for r := 0; r < oStride; r++ {
							got := out[i*oStride+r]
							if r >= 4 {
								if !math.IsNaN(float64(got)) {
									t.Fatalf("x4 nb=%d wrote outside the tile at (%d, %d)", nb, i, r)
								}
								continue
							}
							if want := want(r, i); !sameFloat(got, want) {
								t.Fatalf("x4 nb=%d (w %d, a %d) = %g, want %g", nb, r, i, got, want)
							}
						}
					}
					for _, x1 := range []tileKernel{k.x1, k.decodeX1()} {
						poisonFloats(out)
						x1(w0, wStride, a0, aStride, nb, &out[0], oStride)
						for r := 0; r < 4; r++ {
							if got, want := out[r], want(r, 0); !sameFloat(got, want) {
								t.Fatalf("x1 nb=%d (w %d) = %g, want %g", nb, r, got, want)
							}
						}
						if !math.IsNaN(float64(out[4])) {
							t.Fatalf("x1 nb=%d wrote past its 4 outputs", nb)
						}
					}
					for r := 0; r < 4; r++ {
						got := k.dot(&w[r*wStride], a0, nb)
						if want := want(r, 0); !sameFloat(got, want) {
							t.Fatalf("dot nb=%d (w %d) = %g, want %g", nb, r, got, want)
						}
					}
				}
			})
		}
	}
}

// TestKQuant236DotTile runs DotTile and Dot (whatever this machine's kernels
// are) at awkward sizes against the twins.
func TestKQuant236DotTile(t *testing.T) {
	for typ, twin := range kquant236Twins {
		f := mustFormat(t, typ)
		rng := rand.New(rand.NewPCG(17, uint64(typ)))
		for iter := 0; iter < 40; iter++ {
			mode := kq236Mode(iter % 3)
			nb := 1 + rng.IntN(12)
			n := nb * qkK
			nw := 1 + rng.IntN(10)
			na := []int{1, 17, 1 + rng.IntN(9)}[iter%3]
			wRow, aRow := typ.RowBytes(n), gguf.TypeQ8_K.RowBytes(n)
			wStride, aStride, dStride := wRow+rng.IntN(3)*7, aRow+rng.IntN(3)*5, nw+rng.IntN(3)
			w := kq236Weights(rng, typ, mode, nw, nb, wStride)
			a := kq236Acts(rng, mode, na, nb, aStride)
			dst := make([]float32, na*dStride)
			poisonFloats(dst)
			f.DotTile(dst, dStride, w, wStride, nw, a, aStride, na, n)
			for i := 0; i < na; i++ {
				ai := a[i*aStride : i*aStride+aRow]
				for j := 0; j < dStride; j++ {
					got := dst[i*dStride+j]
					if j >= nw {
						if !math.IsNaN(float64(got)) {
							t.Fatalf("%v: wrote outside the tile at (%d, %d)", typ, i, j)
						}
						continue
					}
					wj := w[j*wStride : j*wStride+wRow]
					want := twin(wj, ai, n)
					if !sameFloat(got, want) {
						t.Fatalf("%v %v nb=%d %dx%d: (%d, %d) = %g, want %g", typ, mode, nb, nw, na, i, j, got, want)
					}
					if got := f.Dot(wj, ai, n); !sameFloat(got, want) {
						t.Fatalf("%v %v nb=%d: Dot = %g, want %g", typ, mode, nb, got, want)
					}
				}
			}
		}
	}
}

// kq236BenchFormat is typ's format as this machine has it (variant ""), or
// a copy that runs the Go twin ("Go": the speed before the assembly) or the
// AVX2 kernels ("AVX2").
func kq236BenchFormat(b *testing.B, typ gguf.Type, variant string) *Format {
	f := mustFormat(b, typ)
	switch variant {
	case "Go":
		g := *f
		g.Dot = kquant236Twins[typ]
		return &g
	case "Tile", "Row":
		// DotTile with the AVX-512 4×1 tile kernel, or with four one-row
		// dots (whichever it runs by default).
		if !hasAVX512KQ236 {
			b.Skip("no AVX-512 VNNI")
		}
		for _, k := range kquant236AVX512 {
			if k.t == typ {
				g := *f
				x1 := k.x1
				if variant == "Row" {
					x1 = rowTiles(k.dot).x1
				}
				tileKernels[&g] = tiles{k.x4, x1}
				b.Cleanup(func() { delete(tileKernels, &g) })
				return &g
			}
		}
	case "AVX2":
		if !hasAVX2 {
			b.Skip("no AVX2")
		}
		for _, k := range kquant236AVX2 {
			if k.t == typ {
				g := *f
				g.Dot = kRowDot(k.dot, k.bytes)
				tileKernels[&g] = tiles{k.x4, k.x1}
				b.Cleanup(func() { delete(tileKernels, &g) })
				return &g
			}
		}
	}
	return f
}

// benchKQ236Tile is prefill: 64 weight rows × 64 activation rows of 2048
// values, in GMAC/s.
func benchKQ236Tile(b *testing.B, typ gguf.Type, variant string) {
	benchKQ236TileRows(b, typ, variant, 64)
}

// benchKQ236TileRows is prefill with nw weight rows (2048: 3.4 MB of Q6_K,
// streamed from memory once per call, as in a model's matmul).
func benchKQ236TileRows(b *testing.B, typ gguf.Type, variant string, nw int) {
	const na, n = 64, 2048
	f := kq236BenchFormat(b, typ, variant)
	rng := rand.New(rand.NewPCG(1, 2))
	wRow, aRow := typ.RowBytes(n), gguf.TypeQ8_K.RowBytes(n)
	w := kq236Weights(rng, typ, kq236Quantized, nw, n/qkK, wRow)
	a := kq236Acts(rng, kq236Quantized, na, n/qkK, aRow)
	dst := make([]float32, na*nw)
	b.ResetTimer()
	c0 := kq236CPUSeconds()
	for i := 0; i < b.N; i++ {
		f.DotTile(dst, nw, w, wRow, nw, a, aRow, na, n)
	}
	macs := float64(nw*na*n) * float64(b.N) / 1e9
	b.ReportMetric(macs/b.Elapsed().Seconds(), "GMAC/s")
	if c := kq236CPUSeconds() - c0; c > 0 {
		b.ReportMetric(macs/c, "GMAC/cpu-s")
	}
}

// benchKQ236Decode is decode: one activation row against 5632 weight rows of
// 2048 values, in GB/s of weights.
func benchKQ236Decode(b *testing.B, typ gguf.Type, variant string) {
	benchKQ236DecodeRows(b, typ, variant, 5632)
}

// benchKQ236DecodeRows is decode with nw weight rows (256: in L2, the
// kernel's own speed).
func benchKQ236DecodeRows(b *testing.B, typ gguf.Type, variant string, nw int) {
	const n = 2048
	f := kq236BenchFormat(b, typ, variant)
	rng := rand.New(rand.NewPCG(3, 4))
	wRow, aRow := typ.RowBytes(n), gguf.TypeQ8_K.RowBytes(n)
	w := kq236Weights(rng, typ, kq236Random, nw, n/qkK, wRow)
	a := kq236Acts(rng, kq236Quantized, 1, n/qkK, aRow)
	dst := make([]float32, nw)
	b.ResetTimer()
	c0 := kq236CPUSeconds()
	for i := 0; i < b.N; i++ {
		f.DotTile(dst, nw, w, wRow, nw, a, aRow, 1, n)
	}
	gb := float64(len(w)) * float64(b.N) / 1e9
	b.ReportMetric(gb/b.Elapsed().Seconds(), "GB/s")
	if c := kq236CPUSeconds() - c0; c > 0 {
		b.ReportMetric(gb/c, "GB/cpu-s")
	}
}

func BenchmarkTileQ6_K(b *testing.B)         { benchKQ236Tile(b, gguf.TypeQ6_K, "") }
func BenchmarkTileQ3_K(b *testing.B)         { benchKQ236Tile(b, gguf.TypeQ3_K, "") }
func BenchmarkTileQ2_K(b *testing.B)         { benchKQ236Tile(b, gguf.TypeQ2_K, "") }
func BenchmarkTileQ6_KGo(b *testing.B)       { benchKQ236Tile(b, gguf.TypeQ6_K, "Go") }
func BenchmarkTileQ3_KGo(b *testing.B)       { benchKQ236Tile(b, gguf.TypeQ3_K, "Go") }
func BenchmarkTileQ2_KGo(b *testing.B)       { benchKQ236Tile(b, gguf.TypeQ2_K, "Go") }
func BenchmarkTileQ6_KAVX2(b *testing.B)     { benchKQ236Tile(b, gguf.TypeQ6_K, "AVX2") }
func BenchmarkTileQ3_KAVX2(b *testing.B)     { benchKQ236Tile(b, gguf.TypeQ3_K, "AVX2") }
func BenchmarkTileQ2_KAVX2(b *testing.B)     { benchKQ236Tile(b, gguf.TypeQ2_K, "AVX2") }
func BenchmarkDecodeQ6_K(b *testing.B)       { benchKQ236Decode(b, gguf.TypeQ6_K, "") }
func BenchmarkDecodeQ3_K(b *testing.B)       { benchKQ236Decode(b, gguf.TypeQ3_K, "") }
func BenchmarkDecodeQ2_K(b *testing.B)       { benchKQ236Decode(b, gguf.TypeQ2_K, "") }
func BenchmarkDecodeQ6_KGo(b *testing.B)     { benchKQ236Decode(b, gguf.TypeQ6_K, "Go") }
func BenchmarkDecodeQ3_KGo(b *testing.B)     { benchKQ236Decode(b, gguf.TypeQ3_K, "Go") }
func BenchmarkDecodeQ2_KGo(b *testing.B)     { benchKQ236Decode(b, gguf.TypeQ2_K, "Go") }
func BenchmarkDecodeQ6_KAVX2(b *testing.B)   { benchKQ236Decode(b, gguf.TypeQ6_K, "AVX2") }
func BenchmarkDecodeQ3_KAVX2(b *testing.B)   { benchKQ236Decode(b, gguf.TypeQ3_K, "AVX2") }
func BenchmarkDecodeQ2_KAVX2(b *testing.B)   { benchKQ236Decode(b, gguf.TypeQ2_K, "AVX2") }
func BenchmarkDecodeL2Q6_K(b *testing.B)     { benchKQ236DecodeRows(b, gguf.TypeQ6_K, "", 256) }
func BenchmarkDecodeL2Q3_K(b *testing.B)     { benchKQ236DecodeRows(b, gguf.TypeQ3_K, "", 256) }
func BenchmarkDecodeL2Q2_K(b *testing.B)     { benchKQ236DecodeRows(b, gguf.TypeQ2_K, "", 256) }
func BenchmarkDecodeL2Q6_KAVX2(b *testing.B) { benchKQ236DecodeRows(b, gguf.TypeQ6_K, "AVX2", 256) }
func BenchmarkDecodeL2Q3_KAVX2(b *testing.B) { benchKQ236DecodeRows(b, gguf.TypeQ3_K, "AVX2", 256) }
func BenchmarkDecodeL2Q2_KAVX2(b *testing.B) { benchKQ236DecodeRows(b, gguf.TypeQ2_K, "AVX2", 256) }

// TestKQuant236ActivationBsums checks what the Q6_K and Q3_K kernels rely on:
// the Q8_K activations' group sums are the sums of their quants.
func TestKQuant236ActivationBsums(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for iter := 0; iter < 50; iter++ {
		nb := 1 + rng.IntN(4)
		x := randFloats(rng, nb*qkK, -3, 3)
		if iter%5 == 0 {
			clear(x[:qkK])
		}
		a := make([]byte, nb*blockQ8_K)
		poisonBytes(a)
		QuantizeActivations(gguf.TypeQ8_K, a, x)
		for b := 0; b < nb; b++ {
			blk := a[b*blockQ8_K : (b+1)*blockQ8_K]
			for g := 0; g < qkK/16; g++ {
				var s int32
				for j := 0; j < 16; j++ {
					s += int32(int8(blk[q8_KQsOffs+16*g+j]))
				}
				if got := q8KBsum(blk, g); got != s {
					t.Fatalf("block %d group %d: bsum %d, quants sum to %d", b, g, got, s)
				}
			}
		}
	}
}

// TestKQuant236QuantizeQ8_K compares the AVX-512 Q8_K activation quantizer
// with quantizeQ8_K: random rows, zero blocks, ties for the largest
// magnitude (the first wins, sign and all), NaNs, infinities, subnormals.
func TestKQuant236QuantizeQ8_K(t *testing.T) {
	type quantizer struct {
		isa string
		q   func(dst []byte, src []float32)
	}
	var qs []quantizer
	if hasAVX512KQ236 {
		qs = append(qs, quantizer{"AVX512", kq236Quantizer(quantizeQ8_KAVX512)})
	}
	if hasAVX2 {
		qs = append(qs, quantizer{"AVX2", kq236Quantizer(quantizeQ8_KAVX2)})
	}
	if len(qs) == 0 {
		t.Skip("no AVX2")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for iter := 0; iter < 400; iter++ {
		nb := rng.IntN(5)
		x := randFloats(rng, nb*qkK, -4, 4)
		for b := 0; b < nb; b++ {
			blk := x[b*qkK : (b+1)*qkK]
			switch rng.IntN(8) {
			case 0:
				clear(blk)
			case 1: // ties: ±m at several places
				m := float32(rng.Float64()*8 + 1)
				for k := 0; k < 4; k++ {
					blk[rng.IntN(qkK)] = m * float32(1-2*rng.IntN(2))
				}
				for i := range blk {
					blk[i] = min(max(blk[i], -m), m)
				}
			case 2:
				blk[rng.IntN(qkK)] = float32(math.NaN())
			case 3:
				blk[rng.IntN(qkK)] = float32(math.Inf(1 - 2*rng.IntN(2)))
			case 4: // subnormals only
				for i := range blk {
					blk[i] = math.Float32frombits(uint32(rng.IntN(1 << 23)))
					if rng.IntN(2) == 0 {
						blk[i] = -blk[i]
					}
				}
			case 5: // zeros and a NaN
				clear(blk)
				blk[rng.IntN(qkK)] = float32(math.NaN())
			case 6: // huge and tiny together
				blk[rng.IntN(qkK)] = 3e38
				blk[rng.IntN(qkK)] = 1e-40
			}
		}
		want := make([]byte, nb*blockQ8_K+1)
		poisonBytes(want)
		got := make([]byte, len(want))
		copy(got, want)
		quantizeQ8_K(want, x)
		for _, q := range qs {
			poisonBytes(got)
			got[len(got)-1] = want[len(want)-1]
			q.q(got, x)
			for i := range want {
				if got[i] != want[i] {
					b, o := i/blockQ8_K, i%blockQ8_K
					t.Fatalf("%s iter %d block %d byte %d: %#x, want %#x", q.isa, iter, b, o, got[i], want[i])
				}
			}
		}
	}
}

func BenchmarkQuantizeQ8_K(b *testing.B) {
	x := randFloats(rand.New(rand.NewPCG(1, 1)), 2048, -2, 2)
	dst := make([]byte, 8*blockQ8_K)
	b.SetBytes(2048 * 4)
	for b.Loop() {
		QuantizeActivations(gguf.TypeQ8_K, dst, x)
	}
}

func BenchmarkQuantizeQ8_KAVX2(b *testing.B) {
	x := randFloats(rand.New(rand.NewPCG(1, 1)), 2048, -2, 2)
	dst := make([]byte, 8*blockQ8_K)
	q := kq236Quantizer(quantizeQ8_KAVX2)
	b.SetBytes(2048 * 4)
	for b.Loop() {
		q(dst, x)
	}
}

func BenchmarkQuantizeQ8_KGo(b *testing.B) {
	x := randFloats(rand.New(rand.NewPCG(1, 1)), 2048, -2, 2)
	dst := make([]byte, 8*blockQ8_K)
	b.SetBytes(2048 * 4)
	for b.Loop() {
		quantizeQ8_K(dst, x)
	}
}
func BenchmarkTileBigQ6_K(b *testing.B) { benchKQ236TileRows(b, gguf.TypeQ6_K, "", 2048) }
func BenchmarkTileBigQ3_K(b *testing.B) { benchKQ236TileRows(b, gguf.TypeQ3_K, "", 2048) }
func BenchmarkTileBigQ2_K(b *testing.B) { benchKQ236TileRows(b, gguf.TypeQ2_K, "", 2048) }

// benchKQ236DecodeStream is decode against a 64 MB matrix of 2048 values a
// row (streamed from memory, as in a model), in GB/s of weights.
func benchKQ236DecodeStream(b *testing.B, typ gguf.Type, variant string) {
	benchKQ236DecodeRows(b, typ, variant, (64<<20)/typ.RowBytes(2048)&^3)
}

func BenchmarkDecodeStreamQ6_K(b *testing.B)     { benchKQ236DecodeStream(b, gguf.TypeQ6_K, "") }
func BenchmarkDecodeStreamQ3_K(b *testing.B)     { benchKQ236DecodeStream(b, gguf.TypeQ3_K, "") }
func BenchmarkDecodeStreamQ2_K(b *testing.B)     { benchKQ236DecodeStream(b, gguf.TypeQ2_K, "") }
func BenchmarkDecodeStreamQ6_KAVX2(b *testing.B) { benchKQ236DecodeStream(b, gguf.TypeQ6_K, "AVX2") }
func BenchmarkDecodeStreamQ6_KRow(b *testing.B)  { benchKQ236DecodeStream(b, gguf.TypeQ6_K, "Row") }
func BenchmarkDecodeStreamQ3_KRow(b *testing.B)  { benchKQ236DecodeStream(b, gguf.TypeQ3_K, "Row") }
func BenchmarkDecodeStreamQ2_KRow(b *testing.B)  { benchKQ236DecodeStream(b, gguf.TypeQ2_K, "Row") }
func BenchmarkDecodeStreamQ6_KTile(b *testing.B) { benchKQ236DecodeStream(b, gguf.TypeQ6_K, "Tile") }
func BenchmarkDecodeL2Q6_KRow(b *testing.B)      { benchKQ236DecodeRows(b, gguf.TypeQ6_K, "Row", 256) }
func BenchmarkDecodeL2Q6_KTile(b *testing.B)     { benchKQ236DecodeRows(b, gguf.TypeQ6_K, "Tile", 256) }
