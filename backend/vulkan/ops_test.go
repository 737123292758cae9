package vulkan

import (
	"fmt"
	"math"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

var allWeightTypes = []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0,
	gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeIQ4_NL, gguf.TypeMXFP4}

func TestDevices(t *testing.T) {
	ds, err := Devices()
	if err != nil {
		t.Fatalf("Devices: %v", err)
	}
	if len(ds) == 0 {
		t.Fatal("no Vulkan device found (install mesa-vulkan-drivers for lavapipe)")
	}
	for _, d := range ds {
		t.Log(d)
	}
	e := newEnv(t, Options{})
	t.Log("chosen:", e.vk.Device())
}

// GetRows dequantizes exactly as the CPU does: bit-identical (tolerance 0).
func TestGetRows(t *testing.T) {
	e := newEnv(t, Options{})
	for _, typ := range allWeightTypes {
		table := e.weight(typ, 37, 96)
		ids := e.i32([]int32{5, 0, 36, 5, 17, 1, 30})
		dst := e.alloc(gguf.TypeF32, 7, 96)
		e.poison(dst)
		e.vk.GetRows(dst.g, table.g, ids.g)
		e.cpu.GetRows(dst.c, table.c, ids.c)
		e.check("GetRows "+typ.String(), dst, 0)
	}
}

// matmulTol is the tolerance of ‖out−ref‖/‖ref‖ for MatMul. Both backends
// quantize x identically and compute identical per-block terms (exact integer
// sums, the same float products); only the order of the F32 sum over blocks
// (a tree on the GPU, sequential on the CPU) differs: a few ulps per output,
// ~1e-7 relative. 1e-5 leaves room for k up to thousands and for a rare
// quant that rounds the other way when a GPU division is off by an ulp.
const matmulTol = 1e-5

func TestMatMul(t *testing.T) {
	for _, o := range []Options{{}, {NoSubgroups: true}} {
		e := newEnv(t, o)
		t.Logf("matmul shader: %s", e.vk.matmul)
		testMatMul(t, e)
	}
}

func testMatMul(t *testing.T, e *env) {
	for _, typ := range allWeightTypes {
		for _, sh := range []struct{ m, k, n int }{{1, 32, 1}, {37, 96, 1}, {37, 96, 7}, {3, 4096 + 64, 2}, {130, 256, 17}} {
			k := sh.k
			if typ.BlockSize() == 1 && sh.m == 37 {
				k = 97 // not a multiple of the workgroup size or of 32
			}
			w := e.weight(typ, sh.m, k)
			x := e.f32(sh.n, k, 1)
			dst := e.alloc(gguf.TypeF32, sh.n, sh.m)
			e.poison(dst)
			e.vk.MatMul(dst.g, w.g, x.g)
			e.cpu.MatMul(dst.c, w.c, x.c)
			e.check(fmt.Sprintf("MatMul %v m=%d k=%d n=%d", typ, sh.m, k, sh.n), dst, matmulTol)
		}
	}
}

// TestMatMulBatchInvariance: a row's result is bit-identical whether it is
// computed alone or in a batch of 7 (and with its batch neighbours changed).
func TestMatMulBatchInvariance(t *testing.T) {
	for _, o := range []Options{{}, {NoSubgroups: true}} {
		testBatchInvariance(t, newEnv(t, o))
	}
}

func testBatchInvariance(t *testing.T, e *env) {
	for _, typ := range allWeightTypes {
		m, k, n := 45, 160, 7
		w := e.weight(typ, m, k)
		x := e.f32(n, k, 1)
		batch := e.alloc(gguf.TypeF32, n, m)
		e.vk.MatMul(batch.g, w.g, x.g)
		all := make([]byte, batch.g.Bytes())
		if err := e.vk.Read(batch.g, all); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			one := e.alloc(gguf.TypeF32, 1, m)
			e.vk.MatMul(one.g, w.g, x.g.Slice(i, i+1))
			got := make([]byte, one.g.Bytes())
			if err := e.vk.Read(one.g, got); err != nil {
				t.Fatal(err)
			}
			if string(got) != string(all[i*4*m:(i+1)*4*m]) {
				t.Errorf("%v: row %d alone differs from the same row in a batch of %d", typ, i, n)
			}
		}
	}
}

// TestSplitWeights binds weights a window at a time (forced 4 KiB windows):
// results must equal the CPU's, and the unsplit GPU result bit for bit.
func TestSplitWeights(t *testing.T) {
	e := newEnv(t, Options{MaxBindRange: 4096})
	whole := newEnv(t, Options{})
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeF32, gguf.TypeQ5_1, gguf.TypeIQ4_NL} {
		checkSplitWeight(t, e, whole, typ, 301, 128, 3, matmulTol, []int32{300, 0, 150, 57, 299})
	}
}

// checkSplitWeight runs MatMul and GetRows on an m x k weight of typ that
// crosses e's small binding windows: MatMul within tol of the CPU and equal,
// bit for bit, to the same product on whole (a backend with the device's own
// windows); GetRows of ids exact.
func checkSplitWeight(t *testing.T, e, whole *env, typ gguf.Type, m, k, n int, tol float64, ids []int32) {
	t.Helper()
	w := e.weight(typ, m, k)
	if w.g.Bytes() < 4*4096 {
		t.Fatalf("%v weight of %d bytes does not cross the window", typ, w.g.Bytes())
	}
	x := e.f32(n, k, 1)
	dst := e.alloc(gguf.TypeF32, n, m)
	e.poison(dst)
	e.vk.MatMul(dst.g, w.g, x.g)
	e.cpu.MatMul(dst.c, w.c, x.c)
	got := e.check("split MatMul "+typ.String(), dst, tol)

	// The same on a backend with the device's own (large) windows.
	copyTo := func(src pair, typ gguf.Type, rows, cols int) pair {
		raw := make([]byte, src.c.Bytes())
		if err := e.cpu.Read(src.c, raw); err != nil {
			t.Fatal(err)
		}
		dst := whole.alloc(typ, rows, cols)
		whole.write(dst, raw)
		return dst
	}
	w2, x2 := copyTo(w, typ, m, k), copyTo(x, gguf.TypeF32, n, k)
	d2 := whole.alloc(gguf.TypeF32, n, m)
	whole.vk.MatMul(d2.g, w2.g, x2.g)
	ref, _ := whole.read(d2)
	for i, v := range floats(ref) {
		if v != got[i] {
			t.Fatalf("%v: split result %d differs from unsplit: %v vs %v", typ, i, got[i], v)
		}
	}

	idx := e.i32(ids)
	rows := e.alloc(gguf.TypeF32, len(ids), k)
	e.poison(rows)
	e.vk.GetRows(rows.g, w.g, idx.g)
	e.cpu.GetRows(rows.c, w.c, idx.c)
	e.check("split GetRows "+typ.String(), rows, 0)
}

// RMSNorm: the GPU sums squares by a tree in F32, the CPU sequentially in F64;
// the difference is a few ulps of the scale. Tolerance 1e-6.
func TestRMSNorm(t *testing.T) {
	e := newEnv(t, Options{})
	for _, sh := range [][2]int{{1, 7}, {7, 300}, {3, 2048}} {
		x := e.f32(sh[0], sh[1], 2)
		w := e.f32(1, sh[1], 1)
		dst := e.alloc(gguf.TypeF32, sh[0], sh[1])
		e.poison(dst)
		e.vk.RMSNorm(dst.g, x.g, w.g, 1e-5)
		e.cpu.RMSNorm(dst.c, x.c, w.c, 1e-5)
		e.check(fmt.Sprintf("RMSNorm %dx%d", sh[0], sh[1]), dst, 1e-6)
	}
}

// Add is exact; SwiGLU differs only by the GPU's exp (a few ulps): 1e-6.
func TestAddSwiGLU(t *testing.T) {
	e := newEnv(t, Options{})
	for _, sh := range [][2]int{{1, 1}, {7, 333}, {2, 5000}} {
		a, b := e.f32(sh[0], sh[1], 3), e.f32(sh[0], sh[1], 3)
		dst := e.alloc(gguf.TypeF32, sh[0], sh[1])
		e.poison(dst)
		e.vk.Add(dst.g, a.g, b.g)
		e.cpu.Add(dst.c, a.c, b.c)
		e.check("Add", dst, 0)
		e.poison(dst)
		e.vk.SwiGLU(dst.g, a.g, b.g)
		e.cpu.SwiGLU(dst.c, a.c, b.c)
		e.check("SwiGLU", dst, 1e-6)
	}
}

// RoPE: angles are computed as the CPU does (same thetaScale, same repeated
// products); sin/cos differ by an ulp or two from Go's: 1e-6.
func TestRoPE(t *testing.T) {
	e := newEnv(t, Options{})
	factors := make([]float32, 32)
	for i := range factors {
		factors[i] = 1 + float32(i)/4
	}
	cases := []backend.RoPE{
		{Mode: backend.RoPENormal, HeadDim: 64, Dims: 64, FreqBase: 10000, FreqScale: 1},
		{Mode: backend.RoPENeoX, HeadDim: 64, Dims: 64, FreqBase: 1e6, FreqScale: 0.25},
		{Mode: backend.RoPENormal, HeadDim: 64, Dims: 32, FreqBase: 10000, FreqScale: 1},
		{Mode: backend.RoPENeoX, HeadDim: 64, Dims: 64, FreqBase: 500000, FreqScale: 1, Factors: factors},
	}
	for i, p := range cases {
		x := e.f32(7, 3*p.HeadDim, 1)
		pos := e.i32([]int32{0, 1, 2, 17, 100, 4095, 31999})
		e.vk.RoPE(x.g, pos.g, p)
		e.cpu.RoPE(x.c, pos.c, p)
		e.check(fmt.Sprintf("RoPE case %d", i), x, 1e-6)
	}
}

// KVWrite converts to F32 or F16 (round to nearest even, as kernels.F32ToF16):
// bit-identical caches, untouched rows included.
func TestKVWrite(t *testing.T) {
	e := newEnv(t, Options{})
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16} {
		cache := e.weight(typ, 20, 48)
		src := e.f32(4, 48, 3)
		rows := e.i32([]int32{3, 19, 0, 7})
		e.vk.KVWrite(cache.g, src.g, rows.g)
		e.cpu.KVWrite(cache.c, src.c, rows.c)
		got, want := e.read(cache)
		if string(got) != string(want) {
			t.Errorf("KVWrite %v: caches differ", typ)
		}
	}
}

// Attend agrees with the CPU within attendTol (TestAttendMatchesCPU has
// the thorough cases).
func TestAttend(t *testing.T) {
	e := newEnv(t, Options{})
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16} {
		p := backend.Attention{Heads: 6, KVHeads: 2, HeadDim: 40, Context: 150}
		p.Scale = float32(1 / math.Sqrt(float64(p.HeadDim)))
		seqs := 2
		k := e.weight(typ, seqs*p.Context, p.KVHeads*p.HeadDim)
		v := e.weight(typ, seqs*p.Context, p.KVHeads*p.HeadDim)
		pos := e.i32([]int32{0, 1, 63, 64, 149, 5, 100})
		seq := e.i32([]int32{0, 1, 0, 1, 1, 0, 1})
		q := e.f32(7, p.Heads*p.HeadDim, 1)
		dst := e.alloc(gguf.TypeF32, 7, p.Heads*p.HeadDim)
		e.poison(dst)
		e.vk.Attend(dst.g, q.g, k.g, v.g, pos.g, seq.g, p)
		e.cpu.Attend(dst.c, q.c, k.c, v.c, pos.c, seq.c, p)
		e.check("Attend "+typ.String(), dst, attendTol(typ))
	}
}
