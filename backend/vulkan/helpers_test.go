package vulkan

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/backend/cpu"
	"github.com/conveyor-llm/conveyor/cgo/vk"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// TestMain fails the run when validation (CONVEYOR_VK_VALIDATE=1) reported
// any error or warning.
func TestMain(m *testing.M) {
	code := m.Run()
	if e, w := vk.ValidationCounts(); e != 0 || w != 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d Vulkan validation errors and %d warnings\n", e, w)
		code = 1
	}
	if vk.ValidationRequested() && code == 0 {
		fmt.Fprintln(os.Stderr, "Vulkan validation was on: no errors, no warnings")
	}
	os.Exit(code)
}

// env pairs a Vulkan backend with the CPU reference.
type env struct {
	t   *testing.T
	vk  *Backend
	cpu *cpu.Backend
	rng *rand.Rand
}

func newEnv(t *testing.T, o Options) *env {
	t.Helper()
	b, err := NewWithOptions(-1, o)
	if err != nil {
		t.Fatalf("Vulkan backend unavailable (this test needs a Vulkan device; lavapipe from mesa-vulkan-drivers will do): %v", err)
	}
	e := &env{t: t, vk: b, cpu: cpu.New(2), rng: rand.New(rand.NewPCG(uint64(len(t.Name())), 7))}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		// e.cpu is not closed: cpu's pool.close races with its workers' read
		// of p.work under -race (reported); two idle goroutines per test.
		if e, w := vk.ValidationCounts(); e != 0 || w != 0 {
			t.Errorf("%d Vulkan validation errors, %d warnings so far", e, w)
		}
	})
	return e
}

// pair is one tensor on both backends.
type pair struct{ g, c backend.Tensor }

func (e *env) alloc(typ gguf.Type, rows, cols int) pair {
	e.t.Helper()
	size := int64(typ.RowBytes(cols)) * int64(rows)
	// An odd offset into a larger buffer exercises binding alignment.
	off := int64(64 + 4*e.rng.IntN(8))
	gb, err := e.vk.Alloc(size + off + 64)
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
	if err := e.vk.Write(p.g, data); err != nil {
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

// f32 makes a random F32 tensor.
func (e *env) f32(rows, cols int, scale float32) pair {
	p := e.alloc(gguf.TypeF32, rows, cols)
	e.write(p, f32bytes(e.randn(rows*cols, scale)))
	return p
}

// i32 makes an I32 vector.
func (e *env) i32(xs []int32) pair {
	p := e.alloc(gguf.TypeI32, 1, len(xs))
	e.write(p, i32bytes(xs))
	return p
}

// weight makes a random tensor of any weight type, quantized from normal
// values, written as a model's weights are (WriteWeight: repacked).
func (e *env) weight(typ gguf.Type, rows, cols int) pair {
	p, raw := e.weightData(typ, rows, cols)
	if err := e.vk.WriteWeight(p.g, raw); err != nil {
		e.t.Fatal(err)
	}
	if err := e.cpu.Write(p.c, raw); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// rawWeight is weight written with Write: in ggml's layout.
func (e *env) rawWeight(typ gguf.Type, rows, cols int) pair {
	p, raw := e.weightData(typ, rows, cols)
	e.write(p, raw)
	return p
}

func (e *env) weightData(typ gguf.Type, rows, cols int) (pair, []byte) {
	p := e.alloc(typ, rows, cols)
	raw := make([]byte, int64(typ.RowBytes(cols))*int64(rows))
	rb := typ.RowBytes(cols)
	for r := 0; r < rows; r++ {
		kernels.QuantizeRow(typ, raw[r*rb:(r+1)*rb], e.randn(cols, 0.5))
	}
	return p, raw
}

// poison fills an F32 tensor with NaN on both backends.
func (e *env) poison(p pair) {
	xs := make([]float32, p.g.Rows*p.g.Cols)
	for i := range xs {
		xs[i] = float32(math.NaN())
	}
	e.write(p, f32bytes(xs))
}

func (e *env) read(p pair) (gpu, ref []byte) {
	e.t.Helper()
	gpu = make([]byte, p.g.Bytes())
	ref = make([]byte, p.c.Bytes())
	if err := e.vk.Read(p.g, gpu); err != nil {
		e.t.Fatal(err)
	}
	if err := e.cpu.Read(p.c, ref); err != nil {
		e.t.Fatal(err)
	}
	return gpu, ref
}

func floats(b []byte) []float32 {
	xs := make([]float32, len(b)/4)
	for i := range xs {
		xs[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return xs
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

// check compares an F32 result with the reference within tol.
func (e *env) check(what string, p pair, tol float64) []float32 {
	e.t.Helper()
	gb, cb := e.read(p)
	got, want := floats(gb), floats(cb)
	if err := relErr(got, want); err > tol || math.IsNaN(err) {
		i := 0
		for i < len(got) && (got[i] == want[i] || math.Abs(float64(got[i]-want[i])) <= tol*math.Abs(float64(want[i]))) {
			i++
		}
		if i == len(got) {
			i = 0
		}
		e.t.Errorf("%s: relative error %.3g > %.3g (first difference at %d: got %v, want %v)", what, err, tol, i, got[i], want[i])
	}
	return got
}
