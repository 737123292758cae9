package vulkan

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/cgo/vk"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// kTypes are the 256-value types dotted with Q8_K: the K-quants and IQ4_XS.
var kTypes = []gguf.Type{gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K, gguf.TypeIQ4_XS}

// GetRows dequantizes K blocks exactly as the CPU does: tolerance 0.
func TestKQuantGetRows(t *testing.T) {
	e := newEnv(t, Options{})
	for _, typ := range kTypes {
		for _, cols := range []int{256, 1024 + 256} {
			table := e.weight(typ, 37, cols)
			ids := e.i32([]int32{5, 0, 36, 5, 17, 1, 30})
			dst := e.alloc(gguf.TypeF32, 7, cols)
			e.poison(dst)
			e.vk.GetRows(dst.g, table.g, ids.g)
			e.cpu.GetRows(dst.c, table.c, ids.c)
			e.check(fmt.Sprintf("GetRows %v cols=%d", typ, cols), dst, 0)
		}
	}
}

// readQuant reads the backend's quantized-activation scratch (words).
func (e *env) readQuant(words int) []uint32 {
	e.t.Helper()
	q := e.vk.quant
	m := &buffer{size: q.Size, chunk: q.Size, chunks: []*vk.Buffer{q}}
	raw := make([]byte, 4*words)
	if err := e.vk.Read(backend.Tensor{Buf: m, Type: gguf.TypeF32, Rows: 1, Cols: words}, raw); err != nil {
		e.t.Fatal(err)
	}
	out := make([]uint32, words)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(raw[4*i:])
	}
	return out
}

// The Q8_K activations (quantize.comp mode 2) equal kernels'
// QuantizeActivations bit for bit: scale, quants and group sums, including
// an all-zero block and blocks whose largest value is negative.
func TestQuantizeQ8_K(t *testing.T) {
	e := newEnv(t, Options{})
	n, k := 7, 1024+256
	xs := e.randn(n*k, 1)
	clear(xs[256:512]) // row 0, block 1: all zero
	xs[k+3] = -9       // row 1, block 0: negative max
	xs[2*k+300] = 1e-30
	for i := 3 * k; i < 4*k; i++ {
		xs[i] *= 1e-3
	}
	x := e.alloc(gguf.TypeF32, n, k)
	e.write(x, f32bytes(xs))
	_, qs, ds, ss := e.vk.quantize(x.g, quantQ8_K)
	nb := n * k / 256
	got := e.readQuant(nb * 81)
	rb := gguf.TypeQ8_K.RowBytes(k)
	ref := make([]byte, n*rb)
	for r := 0; r < n; r++ {
		kernels.QuantizeActivations(gguf.TypeQ8_K, ref[r*rb:(r+1)*rb], xs[r*k:(r+1)*k])
	}
	bad := 0
	for blk := 0; blk < nb; blk++ {
		b := ref[blk*292 : (blk+1)*292]
		var want []byte
		want = binary.LittleEndian.AppendUint32(want, binary.LittleEndian.Uint32(b))
		var have []byte
		have = binary.LittleEndian.AppendUint32(have, got[int(ds)+blk])
		for w := 0; w < 64; w++ {
			have = binary.LittleEndian.AppendUint32(have, got[int(qs)+64*blk+w])
		}
		want = append(want, b[4:260]...)
		for g := 0; g < 16; g++ {
			sum := int16(binary.LittleEndian.Uint16(b[260+2*g:]))
			want = binary.LittleEndian.AppendUint32(want, uint32(int32(sum)))
			have = binary.LittleEndian.AppendUint32(have, got[int(ss)+16*blk+g])
		}
		if !bytes.Equal(have, want) && bad < 5 {
			bad++
			t.Errorf("block %d: Q8_K differs: d %v vs %v", blk, math.Float32frombits(got[int(ds)+blk]), math.Float32frombits(binary.LittleEndian.Uint32(b)))
		}
	}
}

// kMatmulTol is the tolerance of ‖out−ref‖/‖ref‖ for K-quant MatMul. The
// activations are quantized to Q8_K bit for bit as the CPU does
// (TestQuantizeQ8_K) and both take the same exact integer sums per block;
// only the float32 arithmetic after them differs: the CPU folds each block
// into its sum with two FMAs (llama.cpp's AMX order), the GPU adds each
// block's (d_x·d)·isum − (d_x·dmin)·msum to strided per-thread sums then a
// tree. A few ulps of the largest partial sum, ~1e-7 relative; 1e-5, as for
// the 32-value types, leaves two orders of magnitude for cancellation.
const kMatmulTol = 1e-5

func TestKQuantMatMul(t *testing.T) {
	for _, o := range []Options{{}, {NoSubgroups: true}} {
		e := newEnv(t, o)
		t.Logf("matmul shader: %s", e.vk.matmul)
		for _, typ := range kTypes {
			for _, sh := range []struct{ m, k, n int }{{37, 256, 1}, {37, 256, 7}, {67, 1024 + 256, 1}, {67, 1024 + 256, 7}, {5, 4096, 17}} {
				w := e.weight(typ, sh.m, sh.k)
				x := e.f32(sh.n, sh.k, 1)
				dst := e.alloc(gguf.TypeF32, sh.n, sh.m)
				e.poison(dst)
				e.vk.MatMul(dst.g, w.g, x.g)
				e.cpu.MatMul(dst.c, w.c, x.c)
				e.check(fmt.Sprintf("MatMul %v m=%d k=%d n=%d", typ, sh.m, sh.k, sh.n), dst, kMatmulTol)
			}
		}
	}
}

// A row's K-quant MatMul result is bit-identical alone (the matrix-vector
// case, n = 1) and in a batch of 7.
func TestKQuantBatchInvariance(t *testing.T) {
	for _, o := range []Options{{}, {NoSubgroups: true}} {
		e := newEnv(t, o)
		for _, typ := range kTypes {
			m, k, n := 45, 1024+256, 7
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
				if !bytes.Equal(got, all[i*4*m:(i+1)*4*m]) {
					t.Errorf("%v (%s): row %d alone differs from the same row in a batch of %d", typ, e.vk.matmul, i, n)
				}
			}
		}
	}
}

// Q4_K and IQ4_XS weights bound a window at a time (forced 4 KiB windows):
// MatMul equals the CPU's and the unsplit GPU result bit for bit; GetRows is
// exact.
func TestKQuantSplitWeights(t *testing.T) {
	e := newEnv(t, Options{MaxBindRange: 4096})
	whole := newEnv(t, Options{})
	checkSplitWeight(t, e, whole, gguf.TypeQ4_K, 131, 256, 3, kMatmulTol, []int32{130, 0, 65})
	checkSplitWeight(t, e, whole, gguf.TypeIQ4_XS, 131, 256, 3, kMatmulTol, []int32{130, 0, 65})
}
