package cuda

import (
	"fmt"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/backend"
	cu "github.com/conveyor-llm/conveyor/cgo/cuda"
	"github.com/conveyor-llm/conveyor/gguf"
)

// dryDevice is a device that runs no kernel: it hands out addresses, keeps
// written bytes, and records what is launched, so the backend's host side
// (shapes, parameter packing, scratch, flushes, graphs) is tested without a GPU.
type dryDevice struct {
	fakeExec
	next     cu.DevPtr
	mem      map[cu.DevPtr][]byte
	launched []cu.Command
	names    map[cu.Function]string
}

func newDryBackend(t *testing.T) (*Backend, *dryDevice) {
	d := &dryDevice{fakeExec: fakeExec{live: map[*cu.Graph]bool{}}, next: 1 << 20, mem: map[cu.DevPtr][]byte{},
		names: map[cu.Function]string{}}
	calls := 0
	b := newBackend(d, cu.DeviceInfo{Name: "dry", Major: 8, Minor: 6}, &kernelCache{arch: 86, compile: fakeCompiler(&calls)})
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b, d
}

func (d *dryDevice) Submit(cmds []cu.Command) error {
	d.launched = append(d.launched, cmds...)
	return d.fakeExec.Submit(cmds)
}
func (d *dryDevice) Capture(cmds []cu.Command) (*cu.Graph, error) {
	d.launched = append(d.launched, cmds...)
	return d.fakeExec.Capture(cmds)
}
func (d *dryDevice) Alloc(size uint64) (cu.DevPtr, error) {
	p := d.next
	d.mem[p] = make([]byte, size)
	d.next += cu.DevPtr((size + 511) &^ 255)
	return p, nil
}
func (d *dryDevice) Free(p cu.DevPtr) error {
	if _, ok := d.mem[p]; !ok {
		return fmt.Errorf("free of %#x, not allocated", p)
	}
	delete(d.mem, p)
	return nil
}

// at is the bytes at p..p+n inside one allocation.
func (d *dryDevice) at(p cu.DevPtr, n int) ([]byte, error) {
	for base, m := range d.mem {
		if p >= base && p+cu.DevPtr(n) <= base+cu.DevPtr(len(m)) {
			return m[p-base : int(p-base)+n], nil
		}
	}
	return nil, fmt.Errorf("%d bytes at %#x outside every allocation", n, p)
}
func (d *dryDevice) Write(dst cu.DevPtr, data []byte) error {
	m, err := d.at(dst, len(data))
	if err == nil {
		copy(m, data)
	}
	return err
}
func (d *dryDevice) Read(dst []byte, src cu.DevPtr) error {
	m, err := d.at(src, len(dst))
	if err == nil {
		copy(dst, m)
	}
	return err
}
func (d *dryDevice) Sync() error                               { return nil }
func (d *dryDevice) LoadModule(ptx []byte) (*cu.Module, error) { return new(cu.Module), nil }
func (d *dryDevice) Function(m *cu.Module, name string) (cu.Function, error) {
	f := cu.Function(len(d.names) + 1)
	d.names[f] = name
	return f, nil
}
func (d *dryDevice) UnloadModule(*cu.Module) {}
func (d *dryDevice) Close()                  {}

func (d *dryDevice) kernels() []string {
	seen := map[string]bool{}
	for _, c := range d.launched {
		seen[d.names[cu.Function(c.Fn)]] = true
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func dryTensor(t *testing.T, b *Backend, typ gguf.Type, rows, cols int) backend.Tensor {
	m, err := b.Alloc(int64(typ.RowBytes(cols)) * int64(rows))
	require.NoError(t, err)
	return backend.Tensor{Buf: m, Type: typ, Rows: rows, Cols: cols}
}

// Every op packs its kernel's parameters as the kernel declares them
// (launch checks each against kernelSignatures, itself checked against
// NVRTC's PTX), with a nonempty grid, and reports no error.
func TestEveryOpPacksItsKernelsParameters(t *testing.T) {
	b, d := newDryBackend(t)
	f32 := func(r, c int) backend.Tensor { return dryTensor(t, b, gguf.TypeF32, r, c) }
	i32 := func(n int) backend.Tensor { return dryTensor(t, b, gguf.TypeI32, 1, n) }
	x, y, out := f32(3, 256), f32(3, 256), f32(3, 256)
	row := f32(1, 256)
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_K} {
		w := dryTensor(t, b, typ, 64, 256)
		b.MatMul(f32(3, 64), w, x)
		b.MatMul(f32(1, 64), w, x.Slice(0, 1))
		b.GetRows(f32(2, 256), w, i32(2))
	}
	ids := dryTensor(t, b, gguf.TypeI32, 3, 2)
	b.MatMulID(f32(6, 16), dryTensor(t, b, gguf.TypeQ4_0, 4*16, 256), x, ids)
	b.RMSNorm(out, x, row, 1e-5)
	b.LayerNorm(out, x, row, row, 1e-5)
	b.Add(out, x, y)
	b.AddRow(out, x, row)
	b.Scale(out, x, 2)
	b.SwiGLU(out, x, y)
	b.GELU(out, x)
	b.GeGLU(out, x, y)
	b.SoftCap(out, x, 30)
	b.SwiGLUOAI(out, x, y, 1.702, 7)
	b.RoPE(x, i32(3), backend.RoPE{HeadDim: 64, Dims: 64, FreqBase: 1e4, Factors: make([]float32, 32)})
	cache := dryTensor(t, b, gguf.TypeF16, 2*32, 64)
	b.KVWrite(cache, f32(3, 64), i32(3))
	p := backend.Attention{Heads: 4, KVHeads: 1, HeadDim: 64, Context: 32, Scale: 0.125, Sinks: f32(1, 4)}
	b.Attend(x, x, cache, cache, i32(3), i32(3), p)
	b.Route(ids, f32(3, 2), f32(3, 8), backend.GatingSoftmax)
	b.MoESum(f32(3, 256), f32(6, 256), f32(3, 2))
	got := make([]int32, 3)
	require.NoError(t, b.ArgMax(f32(3, 100), got))
	require.NoError(t, b.Read(out, make([]byte, out.Bytes())))

	for _, c := range d.launched {
		if c.Kind == cu.KindLaunch {
			require.NotZero(t, c.Grid[0]*c.Grid[1]*c.Grid[2], d.names[cu.Function(c.Fn)])
			require.LessOrEqual(t, c.Block[0]*c.Block[1]*c.Block[2], uint32(1024))
		}
	}
	require.Equal(t, []string{"argmax", "attention", "elementwise", "get_rows", "kv_write", "layer_norm",
		"matvec_f16", "matvec_f16_x8", "matvec_f32", "matvec_f32_x8", "matvec_q4_0", "matvec_q4_0_x8",
		"matvec_q8_0", "matvec_q8_0_x8", "moe_sum", "quantize_q8", "rms_norm", "rope"}, d.kernels())
}

func TestMismatchedPackingIsAnError(t *testing.T) {
	b, _ := newDryBackend(t)
	b.launch("argmax", "argmax", dims(1, 1, 1), dims(256, 1, 1), new(cu.Args).Ptr(1).F32(2).Int(3))
	err := b.Read(dryTensor(t, b, gguf.TypeF32, 1, 1), make([]byte, 4))
	require.ErrorContains(t, err, "argmax: parameters packed as (u64,f32,u32), the kernel takes (u64,u64,u32)")
	b.err = nil // Close would report it again
}

// The same decode step, written and read as the engine does, is captured
// once and then replayed.
func TestDecodeStepsBecomeOneGraph(t *testing.T) {
	b, d := newDryBackend(t)
	w := dryTensor(t, b, gguf.TypeQ4_0, 64, 256)
	x, h, logits, norm := dryTensor(t, b, gguf.TypeF32, 1, 256), dryTensor(t, b, gguf.TypeF32, 1, 256),
		dryTensor(t, b, gguf.TypeF32, 1, 64), dryTensor(t, b, gguf.TypeF32, 1, 256)
	pos := dryTensor(t, b, gguf.TypeI32, 1, 1)
	next := make([]int32, 1)
	for step := range 6 {
		require.NoError(t, b.Write(pos, []byte{byte(step), 0, 0, 0}))
		for range 4 {
			b.RMSNorm(h, x, norm, 1e-5)
			b.MatMul(logits, w, h)
		}
		require.NoError(t, b.ArgMax(logits, next))
	}
	captures, replays := b.GraphCounts()
	require.Equal(t, int64(1), captures)
	require.Equal(t, int64(5), replays)
	require.Equal(t, 1, d.submits, "only the first step launched plainly")
}

// A weight type without its own kernel is expanded to F16 once, and again
// after its buffer is written.
func TestOtherWeightTypesExpandOnceToF16(t *testing.T) {
	b, d := newDryBackend(t)
	w := dryTensor(t, b, gguf.TypeQ6_K, 8, 256)
	x, out := dryTensor(t, b, gguf.TypeF32, 1, 256), dryTensor(t, b, gguf.TypeF32, 1, 8)
	b.MatMul(out, w, x)
	b.MatMul(out, w, x)
	require.Len(t, b.expanded, 1)
	allocs := len(d.mem)
	require.NoError(t, b.Write(w, make([]byte, w.Bytes())))
	require.Empty(t, b.expanded, "a write drops the copy")
	require.Equal(t, allocs-1, len(d.mem), "and frees it")
	b.MatMul(out, w, x)
	require.Len(t, b.expanded, 1)
	require.NoError(t, b.Read(out, make([]byte, out.Bytes())))
}

// Matmuls of one x in a row quantize it once; anything else in between
// (here an Add into x) quantizes it again.
func TestConsecutiveMatMulsQuantizeXOnce(t *testing.T) {
	b, d := newDryBackend(t)
	x := dryTensor(t, b, gguf.TypeF32, 1, 256)
	q, k := dryTensor(t, b, gguf.TypeQ4_0, 64, 256), dryTensor(t, b, gguf.TypeQ8_0, 16, 256)
	oq, ok := dryTensor(t, b, gguf.TypeF32, 1, 64), dryTensor(t, b, gguf.TypeF32, 1, 16)
	b.MatMul(oq, q, x)
	b.MatMul(ok, k, x)
	b.MatMul(ok, k, x)
	b.Add(x, x, x)
	b.MatMul(oq, q, x)
	b.MatMul(oq, q, x.Slice(0, 1)) // the same view
	require.NoError(t, b.Read(oq, make([]byte, oq.Bytes())))
	n := 0
	for _, c := range d.launched {
		if d.names[cu.Function(c.Fn)] == "quantize_q8" {
			n++
		}
	}
	require.Equal(t, 2, n)
}
