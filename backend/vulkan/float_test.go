package vulkan

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

var floatWeightTypes = []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16}

// Float weights (matmul_float.glsl): the same weights and x give the same
// bits whatever the tile, the batch size, and whether rows and x are read
// with 128-bit loads (16-byte aligned) or a value at a time; and stay within
// matmulTol of the CPU (the CPU sums the products in another order). k is a
// multiple of 8, a multiple of 4 only (F32 rows still aligned, the last
// group of 8 short) or odd; outputs poisoned, fresh random inputs each.
func TestMatMulFloatLayoutsBitIdentical(t *testing.T) {
	layouts := map[uint32]bool{}
	for _, o := range []Options{{}, {NoSubgroups: true}} {
		e := newEnv(t, o)
		for _, typ := range floatWeightTypes {
			for _, sh := range []struct{ m, k int }{{19, 776}, {21, 100}, {5, 97}} {
				_, raw := e.weightData(typ, sh.m, sh.k)
				const n = 17
				xs := f32bytes(e.randn(n*sh.k, 1))
				var first []byte
				for _, off := range []int64{64, 68} {
					w := e.allocAt(typ, sh.m, sh.k, off)
					if err := e.vk.WriteWeight(w.g, raw); err != nil {
						t.Fatal(err)
					}
					if err := e.cpu.Write(w.c, raw); err != nil {
						t.Fatal(err)
					}
					layouts[weightLayout(w.g, e.vk.bind(w.g))] = true
					// x at an aligned and an unaligned offset.
					for _, xoff := range []int64{64, 76} {
						x := e.allocAt(gguf.TypeF32, n, sh.k, xoff)
						e.write(x, xs)
						for _, tile := range tilesTried {
							for _, rows := range []int{n, 1} {
								dst := e.alloc(gguf.TypeF32, rows, sh.m)
								e.poison(dst)
								e.vk.tile = tile
								e.vk.MatMul(dst.g, w.g, x.g.Slice(0, rows))
								e.vk.tile = mmTile{}
								e.cpu.MatMul(dst.c, w.c, x.c.Slice(0, rows))
								what := fmt.Sprintf("%s MatMul %v m=%d k=%d n=%d w at %d (layout %d) x at %d tile %v",
									e.vk.matmul, typ, sh.m, sh.k, rows, off, weightLayout(w.g, e.vk.bind(w.g)), xoff, tile)
								e.check(what, dst, matmulTol)
								got, _ := e.read(dst)
								if first == nil {
									first = got
								} else if string(got) != string(first[:len(got)]) {
									t.Errorf("%s: differs from the first layout, tile and batch", what)
								}
							}
						}
					}
				}
			}
		}
	}
	if !layouts[0] || !layouts[2] {
		t.Errorf("layouts tried %v, want both 0 and 2", layouts)
	}
}

// x is rounded to the weight's type as the CPU rounds it, at the edges too:
// halves' subnormals and their halfway points, the largest half and the
// overflow threshold, ties to even, signed zeros, infinities and NaN. A
// one-hot weight row picks x's value, so the output is the rounded x itself.
func TestMatMulFloatRoundsXAsCPU(t *testing.T) {
	tiny := float32(math.Ldexp(1, -24)) // the smallest half subnormal
	vals := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 1 + 1.0/2048, 1 + 3.0/2048, 1 + 1.0/4096,
		tiny, tiny / 2, tiny * 0.5000001, tiny * 1.5, tiny * 2.5, -tiny * 3.5, float32(math.Ldexp(1, -14)),
		float32(math.Ldexp(1, -14)) * (1 - 1.0/4096), float32(math.Ldexp(1, -15)) * 1.0001, 1e-30,
		65504, 65519.99, 65520, -65520, 70000, 1e30, float32(math.Inf(1)), float32(math.Inf(-1)),
		3.14159265, -2.7182818, 1e-3, 123.456, float32(math.NaN())}
	e := newEnv(t, Options{})
	for _, typ := range []gguf.Type{gguf.TypeF16, gguf.TypeBF16} {
		const k = 16
		raw := make([]byte, typ.RowBytes(k))
		one := uint16(0x3c00) // 1 as a half
		if typ == gguf.TypeBF16 {
			one = 0x3f80
		}
		binary.LittleEndian.PutUint16(raw, one)
		w := e.alloc(typ, 1, k)
		if err := e.vk.WriteWeight(w.g, raw); err != nil {
			t.Fatal(err)
		}
		xs := make([]float32, len(vals)*k)
		for i, v := range vals {
			xs[i*k] = v
		}
		x := e.alloc(gguf.TypeF32, len(vals), k)
		e.write(x, f32bytes(xs))
		dst := e.alloc(gguf.TypeF32, len(vals), 1)
		e.poison(dst)
		e.vk.MatMul(dst.g, w.g, x.g)
		got, _ := e.read(dst)
		for i, v := range vals {
			want := kernels.F16ToF32(kernels.F32ToF16(v))
			if typ == gguf.TypeBF16 {
				want = kernels.BF16ToF32(kernels.F32ToBF16(v))
			}
			g := math.Float32frombits(binary.LittleEndian.Uint32(got[4*i:]))
			if math.IsNaN(float64(want)) != math.IsNaN(float64(g)) ||
				!math.IsNaN(float64(want)) && math.Float32bits(g) != math.Float32bits(want+0) {
				t.Errorf("%v: x %g (%#08x) gave %g (%#08x), want %g (%#08x)", typ, v, math.Float32bits(v), g, math.Float32bits(g), want, math.Float32bits(want))
			}
		}
	}
}

// BenchmarkMatMulFloat: process CPU time per float-weight matmul at the 110M
// shape's FFN size, decode (one row) and prefill (128 rows), default tile.
func BenchmarkMatMulFloat(b *testing.B) {
	for _, typ := range floatWeightTypes {
		for _, n := range []int{1, 128} {
			t := &testing.T{}
			e := newEnv(t, Options{})
			w := e.weight(typ, 2048, 768)
			x := e.f32(n, 768, 1)
			dst := e.alloc(gguf.TypeF32, n, 2048)
			out := make([]byte, dst.g.Bytes())
			b.Run(fmt.Sprintf("%v/n=%d", typ, n), func(b *testing.B) {
				run := func() {
					e.vk.MatMul(dst.g, w.g, x.g)
					if err := e.vk.Read(dst.g, out); err != nil {
						b.Fatal(err)
					}
				}
				reportCPUPerOp(b, run, 1, "cpu-µs/matmul")
			})
			e.vk.Close()
		}
	}
}
