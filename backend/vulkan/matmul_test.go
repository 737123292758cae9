package vulkan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// kWeightTypes are the 256-value super-block types.
var kWeightTypes = []gguf.Type{gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K, gguf.TypeIQ4_XS}

// matmulVariants are the shader variants a device may get: with and without
// subgroup reductions and integer dot products.
var matmulVariants = []Options{{}, {NoIntegerDot: true}, {NoSubgroups: true, NoIntegerDot: true}}

// awkwardShapes are matmul shapes for weights of block size bs: one row,
// rows that are no multiple of a workgroup's rows, k no multiple of 256
// where the type allows, and n = 1, 2, 8, 17 and 65.
func awkwardShapes(bs int) []struct{ m, k, n int } {
	k1, k2 := 96, 32*37 // 3 and 37 blocks
	switch bs {
	case 256:
		k1, k2 = 256, 768
	case 1:
		k1, k2 = 33, 97
	}
	return []struct{ m, k, n int }{{1, k1, 1}, {3, k2, 1}, {5, k1, 2}, {37, k2, 8}, {7, k1, 17}, {6, k2, 65}}
}

// Every weight type, packed (WriteWeight) and in ggml's layout (Write),
// against the CPU at awkward shapes, outputs poisoned first. Tolerance
// matmulTol: x is quantized as the CPU does and every block's (for the
// K-quants, sub-block's) integer sum is exact; only the F32 sums of the
// per-block terms run in another order.
func TestMatMulAwkwardShapes(t *testing.T) {
	types := append(append([]gguf.Type(nil), allWeightTypes...), kWeightTypes...)
	for _, o := range matmulVariants {
		e := newEnv(t, o)
		for _, typ := range types {
			for _, sh := range awkwardShapes(typ.BlockSize()) {
				for _, packed := range []bool{true, false} {
					w := e.weight(typ, sh.m, sh.k)
					if !packed {
						w = e.rawWeight(typ, sh.m, sh.k)
					}
					x := e.f32(sh.n, sh.k, 1)
					dst := e.alloc(gguf.TypeF32, sh.n, sh.m)
					e.poison(dst)
					e.vk.MatMul(dst.g, w.g, x.g)
					e.cpu.MatMul(dst.c, w.c, x.c)
					e.check(fmt.Sprintf("%s: MatMul %v m=%d k=%d n=%d packed=%v", e.vk.matmul, typ, sh.m, sh.k, sh.n, packed), dst, matmulTol)
				}
			}
		}
	}
}

// A row of x gets bit-identical outputs alone (the one-row decode tiling),
// in a batch of 17, and in another batch of 17 with every other row
// changed; and the integer-dot and fallback shaders agree bit for bit.
func TestMatMulBatchOf17Invariance(t *testing.T) {
	types := append(append([]gguf.Type(nil), allWeightTypes...), kWeightTypes...)
	withDot, without := newEnv(t, Options{}), newEnv(t, Options{NoIntegerDot: true})
	for _, typ := range types {
		m, k, n := 45, 160, 17
		switch typ.BlockSize() {
		case 256:
			k = 512
		case 1:
			k = 161
		}
		e := withDot
		w := e.weight(typ, m, k)
		x, other := e.f32(n, k, 1), e.f32(n, k, 1)
		out := func(dst, x pair) []byte {
			e.vk.MatMul(dst.g, w.g, x.g)
			got := make([]byte, dst.g.Bytes())
			if err := e.vk.Read(dst.g, got); err != nil {
				t.Fatal(err)
			}
			return got
		}
		batch := out(e.alloc(gguf.TypeF32, n, m), x)
		for _, c := range []int{0, 6, 16} {
			row := batch[c*4*m : (c+1)*4*m]
			if alone := out(e.alloc(gguf.TypeF32, 1, m), pair{g: x.g.Slice(c, c+1)}); string(alone) != string(row) {
				t.Errorf("%v: row %d alone differs from the same row in a batch of %d", typ, c, n)
			}
			e.copyRow(other, c, x)
			if mixed := out(e.alloc(gguf.TypeF32, n, m), other); string(mixed[c*4*m:(c+1)*4*m]) != string(row) {
				t.Errorf("%v: row %d differs when its batch neighbours change", typ, c)
			}
		}
		// The same weights and x on the fallback shader.
		raw := make([]byte, w.g.Bytes())
		if err := e.vk.Read(w.g, raw); err != nil {
			t.Fatal(err)
		}
		xs := make([]byte, x.g.Bytes())
		if err := e.vk.Read(x.g, xs); err != nil {
			t.Fatal(err)
		}
		f := without
		w2, x2 := f.alloc(typ, m, k), f.alloc(gguf.TypeF32, n, k)
		if err := f.vk.WriteWeight(w2.g, raw); err != nil {
			t.Fatal(err)
		}
		f.write(x2, xs)
		d2 := f.alloc(gguf.TypeF32, n, m)
		f.vk.MatMul(d2.g, w2.g, x2.g)
		got := make([]byte, d2.g.Bytes())
		if err := f.vk.Read(d2.g, got); err != nil {
			t.Fatal(err)
		}
		if string(got) != string(batch) {
			t.Errorf("%v: %s and %s differ", typ, e.vk.matmul, f.vk.matmul)
		}
	}
}

// copyRow copies row c of src into row c of dst (F32, on the GPU only).
func (e *env) copyRow(dst pair, c int, src pair) {
	e.t.Helper()
	buf := make([]byte, src.g.RowBytes())
	if err := e.vk.Read(src.g.Slice(c, c+1), buf); err != nil {
		e.t.Fatal(err)
	}
	if err := e.vk.Write(dst.g.Slice(c, c+1), buf); err != nil {
		e.t.Fatal(err)
	}
}

// Packed weights read back as written; a plain Write over them stores
// ggml's layout again, and MatMul and GetRows follow.
func TestPackedWeightsReadAndOverwrite(t *testing.T) {
	e := newEnv(t, Options{})
	for typ := range packedLayouts {
		k := 96
		if typ.BlockSize() == 256 {
			k = 512
		}
		w := e.weight(typ, 9, k)
		got, want := e.read(w)
		if string(got) != string(want) {
			t.Errorf("%v: packed weight reads back changed", typ)
		}
		if _, ok := packedOf(w.g); !ok {
			t.Errorf("%v: WriteWeight did not pack", typ)
		}
		if _, ok := packedOf(w.g.Slice(3, 7)); !ok {
			t.Errorf("%v: rows 3..7 of a packed weight are not seen as packed", typ)
		}
		_, raw := e.weightData(typ, 9, k)
		e.write(w, raw)
		if _, ok := packedOf(w.g); ok {
			t.Errorf("%v: still packed after a plain Write", typ)
		}
		x := e.f32(3, k, 1)
		dst := e.alloc(gguf.TypeF32, 3, 9)
		e.poison(dst)
		e.vk.MatMul(dst.g, w.g, x.g)
		e.cpu.MatMul(dst.c, w.c, x.c)
		e.check(fmt.Sprintf("MatMul %v after a plain Write", typ), dst, matmulTol)
		ids := e.i32([]int32{8, 0, 4})
		rows := e.alloc(gguf.TypeF32, 3, k)
		e.poison(rows)
		e.vk.GetRows(rows.g, w.g, ids.g)
		e.cpu.GetRows(rows.c, w.c, ids.c)
		e.check(fmt.Sprintf("GetRows %v after a plain Write", typ), rows, 0)
	}
}

// GetRows reads packed rows, aligned and not, exactly as the CPU (tolerance 0).
func TestGetRowsPacked(t *testing.T) {
	e := newEnv(t, Options{})
	for typ := range packedLayouts {
		for _, blocks := range []int{3, 8} { // rows of 3 blocks, and of 8 (16-byte multiples)
			cols := blocks * typ.BlockSize()
			table := e.weight(typ, 21, cols)
			ids := e.i32([]int32{20, 0, 7, 7, 13})
			dst := e.alloc(gguf.TypeF32, 5, cols)
			e.poison(dst)
			e.vk.GetRows(dst.g, table.g, ids.g)
			e.cpu.GetRows(dst.c, table.c, ids.c)
			e.check(fmt.Sprintf("GetRows packed %v cols=%d", typ, cols), dst, 0)
		}
	}
}

// Rows of 16-byte multiples at a 16-byte aligned offset are read with
// 128-bit loads (layout 2), others through unaligned words (layout 1); both
// agree with the CPU.
func TestMatMulPackedAlignment(t *testing.T) {
	e := newEnv(t, Options{})
	for typ := range packedLayouts {
		for _, c := range []struct {
			off    int64
			layout uint32
		}{{64, 2}, {68, 1}} {
			m, k, n := 11, 16*typ.BlockSize(), 3 // 16 blocks: rows of 16-byte multiples
			_, raw := e.weightData(typ, m, k)
			w := e.allocAt(typ, m, k, c.off)
			if err := e.vk.WriteWeight(w.g, raw); err != nil {
				t.Fatal(err)
			}
			if err := e.cpu.Write(w.c, raw); err != nil {
				t.Fatal(err)
			}
			if got := weightLayout(w.g, e.vk.bind(w.g)); got != c.layout {
				t.Errorf("%v at offset %d: layout %d, want %d", typ, c.off, got, c.layout)
			}
			x := e.f32(n, k, 1)
			dst := e.alloc(gguf.TypeF32, n, m)
			e.poison(dst)
			e.vk.MatMul(dst.g, w.g, x.g)
			e.cpu.MatMul(dst.c, w.c, x.c)
			e.check(fmt.Sprintf("MatMul %v layout %d", typ, c.layout), dst, matmulTol)
		}
	}
}

// allocAt is alloc with the tensor at byte off of its buffers.
func (e *env) allocAt(typ gguf.Type, rows, cols int, off int64) pair {
	e.t.Helper()
	size := int64(typ.RowBytes(cols))*int64(rows) + off + 64
	gb, err := e.vk.Alloc(size)
	if err != nil {
		e.t.Fatal(err)
	}
	cb, err := e.cpu.Alloc(size)
	if err != nil {
		e.t.Fatal(err)
	}
	return pair{
		g: backend.Tensor{Buf: gb, Offset: off, Type: typ, Rows: rows, Cols: cols},
		c: backend.Tensor{Buf: cb, Offset: off, Type: typ, Rows: rows, Cols: cols},
	}
}

// A packed weight read in another shape would be misread: it is refused,
// naming the packing.
func TestPackedWeightOtherShapeRefused(t *testing.T) {
	e := newEnv(t, Options{})
	w := e.weight(gguf.TypeQ4_0, 9, 96)
	x := e.f32(1, 32, 1)
	dst := e.alloc(gguf.TypeF32, 1, 27)
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "packed") {
			t.Fatalf("MatMul on a reshaped packed weight: %v", r)
		}
	}()
	e.vk.MatMul(dst.g, w.g.Reshape(27, 32), x.g)
}
