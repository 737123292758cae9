package vulkan

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// moeSizes are the awkward sizes of the device routing tests: one expert,
// a few, many; one, two and eight chosen; one token and a batch of 17.
var moeSizes = func() (s [][3]int) {
	for _, experts := range []int{1, 8, 128} {
		for _, used := range []int{1, 2, 8} {
			for _, n := range []int{1, 17} {
				if used <= experts {
					s = append(s, [3]int{experts, used, n})
				}
			}
		}
	}
	return s
}()

// tiedLogits are random router logits on a grid of 0.5, so many are tied:
// the choice among equal logits (the lower expert) is tested too.
func (e *env) tiedLogits(n, experts int) pair {
	xs := e.randn(n*experts, 2)
	for i := range xs {
		xs[i] = float32(math.Round(float64(xs[i]))) / 2
	}
	p := e.alloc(gguf.TypeF32, n, experts)
	e.write(p, f32bytes(xs))
	return p
}

// poisonIDs fills an I32 tensor with -7 on both backends.
func (e *env) poisonIDs(p pair) {
	xs := make([]int32, p.g.Rows*p.g.Cols)
	for i := range xs {
		xs[i] = -7
	}
	e.write(p, i32bytes(xs))
}

// Route on the device chooses exactly the CPU's experts (ties included) and
// weights within 1e-6 (exp in float32 on the device, float64 on the CPU: a
// few ulps per weight).
func TestRouteOnDeviceMatchesCPU(t *testing.T) {
	e := newEnv(t, Options{})
	for _, sz := range moeSizes {
		experts, used, n := sz[0], sz[1], sz[2]
		logits := e.tiedLogits(n, experts)
		ids := e.alloc(gguf.TypeI32, n, used)
		weights := e.alloc(gguf.TypeF32, n, used)
		for _, g := range []backend.Gating{backend.GatingSoftmax, backend.GatingTopKSoftmax} {
			e.poisonIDs(ids)
			e.poison(weights)
			e.vk.Route(ids.g, weights.g, logits.g, g)
			e.cpu.Route(ids.c, weights.c, logits.c, g)
			gi, ci := e.read(ids)
			if !bytes.Equal(gi, ci) {
				t.Fatalf("experts %d, used %d, n %d, gating %d: Route chose %v, the CPU %v", experts, used, n, g, floats(gi), floats(ci))
			}
			e.check(fmt.Sprintf("experts %d, used %d, n %d, gating %d: Route weights", experts, used, n, g), weights, 1e-6)
		}
	}
	if t.Failed() {
		return
	}
	// A NaN is chosen only where it is the first expert not yet taken.
	nan := float32(math.NaN())
	logits := e.alloc(gguf.TypeF32, 2, 4)
	e.write(logits, f32bytes([]float32{nan, 1, 3, 3, 2, nan, 5, nan}))
	ids := e.alloc(gguf.TypeI32, 2, 3)
	weights := e.alloc(gguf.TypeF32, 2, 3)
	e.vk.Route(ids.g, weights.g, logits.g, backend.GatingSoftmax)
	e.cpu.Route(ids.c, weights.c, logits.c, backend.GatingSoftmax)
	if gi, ci := e.read(ids); !bytes.Equal(gi, ci) {
		t.Fatalf("with NaN logits Route chose %v, the CPU %v", gi, ci)
	}
}

// MatMulID grouped on the device agrees with the CPU at the awkward sizes,
// for shared and per-slot inputs, float and quantized stacks; and the host
// fallback does too. The tolerance is MatMul's (the shader sums in another
// order than the CPU).
func TestMatMulIDOnDeviceMatchesCPU(t *testing.T) {
	for _, hostOnly := range []bool{false, true} {
		e := newEnv(t, Options{})
		e.vk.moe.hostOnly = hostOnly
		for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeQ8_0, gguf.TypeQ4_K} {
			for _, sz := range moeSizes {
				experts, used, n := sz[0], sz[1], sz[2]
				if hostOnly && experts == 128 {
					continue
				}
				m, k := 13, 256
				what := fmt.Sprintf("host %v, %v, experts %d, used %d, n %d", hostOnly, typ, experts, used, n)
				logits := e.tiedLogits(n, experts)
				ids := e.alloc(gguf.TypeI32, n, used)
				weights := e.alloc(gguf.TypeF32, n, used)
				e.vk.Route(ids.g, weights.g, logits.g, backend.GatingSoftmax)
				e.cpu.Route(ids.c, weights.c, logits.c, backend.GatingSoftmax)
				w := e.weight(typ, experts*m, k)
				x := e.f32(n, k, 1)
				up := e.alloc(gguf.TypeF32, n*used, m)
				e.poison(up)
				e.vk.MatMulID(up.g, w.g, x.g, ids.g)
				e.cpu.MatMulID(up.c, w.c, x.c, ids.c)
				e.check(what+": MatMulID shared input", up, 2e-6)

				down := e.weight(typ, experts*k, 256)
				xs := e.f32(n*used, 256, 1)
				out := e.alloc(gguf.TypeF32, n*used, k)
				e.poison(out)
				e.vk.MatMulID(out.g, down.g, xs.g, ids.g)
				e.cpu.MatMulID(out.c, down.c, xs.c, ids.c)
				e.check(what+": MatMulID per-slot input", out, 2e-6)
				if t.Failed() {
					return
				}
			}
		}
	}
}

// A token's expert outputs are bit-identical alone and in a batch of 17.
func TestMatMulIDBatchInvariant(t *testing.T) {
	e := newEnv(t, Options{})
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeQ4_K} {
		experts, used, n, m, k := 128, 8, 17, 40, 512
		logits := e.tiedLogits(n, experts)
		ids := e.alloc(gguf.TypeI32, n, used)
		weights := e.alloc(gguf.TypeF32, n, used)
		e.vk.Route(ids.g, weights.g, logits.g, backend.GatingSoftmax)
		w := e.weight(typ, experts*m, k)
		x := e.f32(n, k, 1)
		all := e.alloc(gguf.TypeF32, n*used, m)
		e.vk.MatMulID(all.g, w.g, x.g, ids.g)
		batch, _ := e.read(all)
		for _, i := range []int{0, 5, 16} {
			one := e.alloc(gguf.TypeF32, used, m)
			e.poison(one)
			e.vk.MatMulID(one.g, w.g, x.g.Slice(i, i+1), ids.g.Slice(i, i+1))
			alone, _ := e.read(one)
			row := used * m * 4
			if !bytes.Equal(alone, batch[i*row:(i+1)*row]) {
				t.Errorf("%v: token %d's outputs differ alone and in the batch", typ, i)
			}
		}
	}
}

// An expert stack larger than one binding is multiplied a window of whole
// experts at a time on the device: the outputs are bit-identical to one
// binding's (the same tile, the same reduction) and within MatMul's
// tolerance of the CPU, for one token and a batch, shared and per-slot
// inputs, float and quantized stacks.
func TestMatMulIDWindowsMatchOneBinding(t *testing.T) {
	e := newEnv(t, Options{})
	full := e.vk.maxRange
	defer func() { e.vk.maxRange = full }()
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeQ4_K} {
		for _, sz := range [][3]int{{128, 8, 1}, {10, 2, 5}, {7, 1, 3}} {
			experts, used, n := sz[0], sz[1], sz[2]
			m, k := 128, 256 // an expert's rows outweigh the activations' bindings
			logits := e.tiedLogits(n, experts)
			ids := e.alloc(gguf.TypeI32, n, used)
			weights := e.alloc(gguf.TypeF32, n, used)
			e.vk.Route(ids.g, weights.g, logits.g, backend.GatingSoftmax)
			e.cpu.Route(ids.c, weights.c, logits.c, backend.GatingSoftmax)
			w := e.weight(typ, experts*m, k)
			for _, shared := range []bool{true, false} {
				rows := n
				if !shared {
					rows = n * used
				}
				x := e.f32(rows, k, 1)
				out := e.alloc(gguf.TypeF32, n*used, m)
				var one []byte
				for _, perWindow := range []int{experts, 3, 1} {
					what := fmt.Sprintf("%v, experts %d, used %d, n %d, shared %v, %d experts a window", typ, experts, used, n, shared, perWindow)
					e.vk.maxRange = full
					if perWindow < experts {
						e.vk.maxRange = e.vk.align + 8 + int64(perWindow*m)*w.g.RowBytes()
					}
					lay, ok := e.vk.moeLayout(w.g, n, n*used, experts)
					if !ok || lay.perWindow != perWindow {
						t.Fatalf("%s: layout %+v, on the device %v", what, lay, ok)
					}
					e.poison(out)
					e.vk.MatMulID(out.g, w.g, x.g, ids.g)
					if perWindow == experts {
						e.cpu.MatMulID(out.c, w.c, x.c, ids.c)
						e.check(what, out, 2e-6)
						one, _ = e.read(out)
					} else if got, _ := e.read(out); !bytes.Equal(got, one) {
						t.Fatalf("%s: differs from one binding's", what)
					}
				}
				e.vk.maxRange = full
			}
		}
	}
}

// moe_group's tile tables hold each chosen expert's grouped rows once, in
// order, in tiles of at most the tile's columns, with the empty entries
// spread: between two tiles (and before the first) at most
// ceil(entries/tiles)-1 empty entries, so lavapipe's even runs of
// workgroups get even work.
func TestMoEGroupSpreadsTiles(t *testing.T) {
	e := newEnv(t, Options{})
	for _, sz := range [][3]int{{128, 8, 1}, {128, 8, 64}, {8, 2, 37}, {16, 4, 3}} {
		experts, used, n := sz[0], sz[1], sz[2]
		logits := e.tiedLogits(n, experts)
		ids := e.alloc(gguf.TypeI32, n, used)
		weights := e.alloc(gguf.TypeF32, n, used)
		e.vk.Route(ids.g, weights.g, logits.g, backend.GatingSoftmax)
		e.cpu.Route(ids.c, weights.c, logits.c, backend.GatingSoftmax)
		w := e.weight(gguf.TypeQ8_0, experts*32, 32)
		x := e.f32(n, 32, 1)
		out := e.alloc(gguf.TypeF32, n*used, 32)
		e.vk.MatMulID(out.g, w.g, x.g, ids.g)
		lay, _ := e.vk.moeLayout(w.g, n, n*used, experts)
		raw := make([]byte, 4*lay.stride)
		if err := e.vk.Read(lay.table(e.vk.moe.tiles, 0).Columns(0, lay.stride), raw); err != nil {
			t.Fatal(err)
		}
		_, cids := e.read(ids)
		count := make([]int, experts)
		for s := range n * used {
			count[int32(binary.LittleEndian.Uint32(cids[4*s:]))]++
		}
		what := fmt.Sprintf("experts %d, used %d, n %d, layout %+v", experts, used, n, lay)
		want := 0 // tiles
		for _, c := range count {
			want += (c + int(lay.tile.cols) - 1) / int(lay.tile.cols)
		}
		maxGap := (lay.tiles+want-1)/want - 1
		nextRow, nextExpert, gap, real := 0, 0, 0, 0
		for i := range lay.tiles {
			ex, first, rows := binary.LittleEndian.Uint32(raw[12*i:]), int(binary.LittleEndian.Uint32(raw[12*i+4:])), int(binary.LittleEndian.Uint32(raw[12*i+8:]))
			if rows == 0 {
				gap++
				continue
			}
			for nextExpert < experts && count[nextExpert] == 0 {
				nextExpert++
			}
			if int(ex) != nextExpert || first != nextRow || rows > int(lay.tile.cols) {
				t.Fatalf("%s: entry %d is (%d, %d, %d), want expert %d from row %d", what, i, ex, first, rows, nextExpert, nextRow)
			}
			nextRow += rows
			if count[nextExpert] -= rows; count[nextExpert] < 0 {
				t.Fatalf("%s: expert %d has more rows in tiles than slots", what, ex)
			}
			real++
			if gap > maxGap {
				t.Errorf("%s: %d empty entries before entry %d", what, gap, i)
			}
			gap = 0
		}
		if nextRow != n*used || real != want {
			t.Errorf("%s: %d tiles cover %d of %d grouped rows, want %d tiles", what, real, nextRow, n*used, want)
		}
	}
}
