package cuda

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/backend/cpu"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// env pairs a CUDA backend with the CPU reference. Where there is no CUDA
// device (CI) the backend runs on the emulated device (NewEmulated): the
// same kernels compiled for the CPU; without a C++ compiler the tests skip,
// saying why.
type env struct {
	t   *testing.T
	gpu *Backend
	cpu *cpu.Backend
	rng *rand.Rand
}

func newEnv(t *testing.T) *env {
	t.Helper()
	b, err := New(-1)
	if err != nil {
		var emuErr error
		if b, emuErr = NewEmulated(); emuErr != nil {
			t.Skipf("no CUDA backend here (%v) and no emulator (%v)", err, emuErr)
		}
	}
	e := &env{t: t, gpu: b, cpu: cpu.New(2), rng: rand.New(rand.NewPCG(uint64(len(t.Name())), 7))}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// pair is one tensor on both backends.
type pair struct{ g, c backend.Tensor }

func (e *env) alloc(typ gguf.Type, rows, cols int) pair {
	e.t.Helper()
	size := int64(typ.RowBytes(cols)) * int64(rows)
	// An offset into a larger buffer: kernels must not assume 256-byte alignment.
	off := int64(64 + 4*e.rng.IntN(8))
	gb, err := e.gpu.Alloc(size + off + 64)
	if err != nil {
		e.t.Fatal(err)
	}
	cb, err := e.cpu.Alloc(size + off + 64)
	if err != nil {
		e.t.Fatal(err)
	}
	return pair{
		g: backend.Tensor{Buf: gb, Offset: off, Type: typ, Rows: rows, Cols: cols},
		c: backend.Tensor{Buf: cb, Offset: off, Type: typ, Rows: rows, Cols: cols},
	}
}

func (e *env) write(p pair, data []byte) {
	e.t.Helper()
	if err := e.gpu.Write(p.g, data); err != nil {
		e.t.Fatal(err)
	}
	if err := e.cpu.Write(p.c, data); err != nil {
		e.t.Fatal(err)
	}
}

func f32bytes(xs []float32) []byte {
	b := make([]byte, 4*len(xs))
	for i, x := range xs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func i32bytes(xs []int32) []byte {
	b := make([]byte, 4*len(xs))
	for i, x := range xs {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return b
}

func (e *env) randn(n int, scale float32) []float32 {
	xs := make([]float32, n)
	for i := range xs {
		xs[i] = float32(e.rng.NormFloat64()) * scale
	}
	return xs
}

func (e *env) f32(rows, cols int, scale float32) pair {
	p := e.alloc(gguf.TypeF32, rows, cols)
	e.write(p, f32bytes(e.randn(rows*cols, scale)))
	return p
}

func (e *env) i32(xs []int32) pair {
	p := e.alloc(gguf.TypeI32, 1, len(xs))
	e.write(p, i32bytes(xs))
	return p
}

// weight makes a random tensor of any weight type, quantized from normal values.
func (e *env) weight(typ gguf.Type, rows, cols int) pair {
	p := e.alloc(typ, rows, cols)
	rb := typ.RowBytes(cols)
	raw := make([]byte, rb*rows)
	for r := range rows {
		kernels.QuantizeRow(typ, raw[r*rb:(r+1)*rb], e.randn(cols, 0.5))
	}
	e.write(p, raw)
	return p
}

// out makes an F32 output poisoned with NaN on both backends, so a value
// the GPU never writes shows.
func (e *env) out(rows, cols int) pair {
	p := e.alloc(gguf.TypeF32, rows, cols)
	xs := make([]float32, rows*cols)
	for i := range xs {
		xs[i] = float32(math.NaN())
	}
	e.write(p, f32bytes(xs))
	return p
}

func floats(b []byte) []float32 {
	xs := make([]float32, len(b)/4)
	for i := range xs {
		xs[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return xs
}

func (e *env) read(p pair) (gpu, ref []float32) {
	e.t.Helper()
	g, c := make([]byte, p.g.Bytes()), make([]byte, p.c.Bytes())
	if err := e.gpu.Read(p.g, g); err != nil {
		e.t.Fatal(err)
	}
	if err := e.cpu.Read(p.c, c); err != nil {
		e.t.Fatal(err)
	}
	return floats(g), floats(c)
}

// relErr is ‖got−want‖/‖want‖ (Inf when got has a NaN or Inf).
func relErr(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return math.Inf(1)
		}
		num += (g - w) * (g - w)
		den += w * w
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// check compares an F32 result with the CPU's within tol.
func (e *env) check(what string, p pair, tol float64) []float32 {
	e.t.Helper()
	got, want := e.read(p)
	if err := relErr(got, want); err > tol || math.IsNaN(err) {
		i := 0
		for i < len(got) && math.Abs(float64(got[i]-want[i])) <= tol*math.Abs(float64(want[i]))+1e-30 {
			i++
		}
		if i == len(got) {
			i = 0
		}
		e.t.Errorf("%s: relative error %.3g > %.3g (first difference at %d: got %v, want %v)", what, err, tol, i, got[i], want[i])
	}
	return got
}

// asF16 is w (of any weight type) dequantized and rounded to F16, as the
// backend expands the types its kernels do not read.
func (e *env) asF16(w pair) pair {
	e.t.Helper()
	raw := make([]byte, w.c.Bytes())
	if err := e.cpu.Read(w.c, raw); err != nil {
		e.t.Fatal(err)
	}
	rb := int(w.c.RowBytes())
	vals := make([]float32, w.c.Cols)
	f16 := make([]byte, 0, 2*w.c.Rows*w.c.Cols)
	for r := range w.c.Rows {
		kernels.DequantizeRow(w.c.Type, vals, raw[r*rb:(r+1)*rb])
		for _, v := range vals {
			f16 = binary.LittleEndian.AppendUint16(f16, kernels.F32ToF16(v))
		}
	}
	p := e.alloc(gguf.TypeF16, w.c.Rows, w.c.Cols)
	e.write(p, f16)
	return p
}
