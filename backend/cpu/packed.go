package cpu

import (
	"cmp"
	"slices"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// Q8_0 and Q4_0 weights are packed in place (kernels.PackGroup), 16 rows at a
// time, the first time a matmul reads them, into the layout their matrix
// kernels stream (AVX-512 VNNI for decode, AMX tiles for prefill). Packing
// keeps every byte count and row offset, and the outputs are the Format's Dot
// bit for bit, packed or not. Reads of packed bytes (GetRows, Read) unpack
// them; a Write over them drops the packing.

// packedRange is a packed tensor: rows (a multiple of 16) of cols columns of
// type typ, starting at byte off of its buffer.
type packedRange struct {
	off        int64
	rows, cols int
	typ        gguf.Type
}

func (r packedRange) rowBytes() int64 { return int64(r.typ.RowBytes(r.cols)) }
func (r packedRange) end() int64      { return r.off + int64(r.rows)*r.rowBytes() }

// packedRows is how many of t's rows a packing covers: whole groups of 16.
func packedRows(t backend.Tensor) int { return t.Rows / kernels.PackRows * kernels.PackRows }

// packedFor returns w's packing, packing it first if need be; ok is false
// where w's type has no packed layout.
func (b *Backend) packedFor(m *buffer, w backend.Tensor) (packedRange, bool) {
	if !kernels.Packable(w.Type, w.Cols) || packedRows(w) == 0 {
		return packedRange{}, false
	}
	want := packedRange{off: w.Offset, rows: packedRows(w), cols: w.Cols, typ: w.Type}
	if i, found := m.packedSearch(want.off); found && m.packed[i] == want {
		return want, true
	}
	// Undo packings this one overlaps (the same bytes seen as another shape),
	// then pack.
	b.unpackOverlapping(m, want.off, want.end())
	b.packRange(m, want)
	i, _ := m.packedSearch(want.off)
	m.packed = slices.Insert(m.packed, i, want)
	return want, true
}

// packedSearch returns where a packing starting at byte off is, or would go,
// in m.packed (sorted by offset, never overlapping), and whether one is there.
func (m *buffer) packedSearch(off int64) (int, bool) {
	return slices.BinarySearchFunc(m.packed, off, func(r packedRange, off int64) int { return cmp.Compare(r.off, off) })
}

// packRange packs r's groups in parallel.
func (b *Backend) packRange(m *buffer, r packedRange) {
	groupBytes := int(r.rowBytes()) * kernels.PackRows
	b.pool.parallelFor(r.rows/kernels.PackRows, 1, func(lo, hi int) {
		tmp := make([]byte, groupBytes)
		for g := lo; g < hi; g++ {
			at := int(r.off) + g*groupBytes
			kernels.PackGroup(r.typ, m.data[at:at+groupBytes], tmp, r.cols)
		}
	})
}

// unpackOverlapping restores the standard layout of every packing that
// overlaps bytes [lo, hi) of m and forgets it.
func (b *Backend) unpackOverlapping(m *buffer, lo, hi int64) {
	m.packed = slices.DeleteFunc(m.packed, func(r packedRange) bool {
		if r.end() <= lo || r.off >= hi {
			return false
		}
		rowBytes := int(r.rowBytes())
		groupBytes := rowBytes * kernels.PackRows
		std := make([]byte, groupBytes)
		for g := 0; g < r.rows/kernels.PackRows; g++ {
			at := int(r.off) + g*groupBytes
			group := m.data[at : at+groupBytes]
			for row := 0; row < kernels.PackRows; row++ {
				kernels.UnpackRow(r.typ, std[row*rowBytes:(row+1)*rowBytes], group, row, r.cols)
			}
			copy(group, std)
		}
		return true
	})
}

// standardRow returns row `row` of t in the standard layout: in place, or
// unpacked into scratch (of t's row size) where t's bytes are packed.
func standardRow(m *buffer, t backend.Tensor, row int, scratch []byte) []byte {
	rowBytes := t.RowBytes()
	at := t.Offset + int64(row)*rowBytes
	i, found := m.packedSearch(at)
	if !found {
		i-- // the packing starting before at, if any
	}
	if i < 0 || at >= m.packed[i].end() {
		return m.data[at : at+rowBytes]
	}
	r := m.packed[i]
	rel := (at - r.off) / rowBytes
	groupBytes := rowBytes * kernels.PackRows
	start := r.off + rel/kernels.PackRows*groupBytes
	kernels.UnpackRow(r.typ, scratch[:rowBytes], m.data[start:start+groupBytes], int(rel%kernels.PackRows), r.cols)
	return scratch[:rowBytes]
}

// matMulPacked is MatMul for packed weights: the activation rows are
// quantized with their per-block tables, then each worker computes whole
// groups of 16 weight rows against blocks of activation rows (a block of
// activations stays in cache while the worker's groups stream past).
func (b *Backend) matMulPacked(dst, w, x backend.Tensor, m *buffer, r packedRange) {
	n, k := x.Rows, w.Cols
	t := &b.pool.packed
	t.act.Reset(w.Type, n, k)
	t.xs, t.out, t.n, t.m, t.k = f32s(x), f32s(dst), n, w.Rows, k
	t.weights, t.groupBytes = m.data[r.off:r.end()], int(r.rowBytes())*kernels.PackRows
	t.work, t.dots = b.work, false
	b.pool.parallelRange((n+kernels.PackRows-1)/kernels.PackRows, 1, t)
	t.dots = true
	b.pool.parallelRange(r.rows/kernels.PackRows, 1, t)
	// Rows past the last whole group are dotted in the standard layout.
	format := mustFormat(w.Type)
	rowBytes := int(w.RowBytes())
	for j := r.rows; j < w.Rows; j++ {
		row := m.data[int(w.Offset)+j*rowBytes : int(w.Offset)+(j+1)*rowBytes]
		for i := 0; i < n; i++ {
			t.out[i*t.m+j] = format.Dot(row, t.act.Q[i*t.act.RowBytes:(i+1)*t.act.RowBytes], k)
		}
	}
	t.xs, t.out, t.weights, t.work = nil, nil, nil, nil
}

// packedActBlockBytes bounds the activation rows a worker's weight groups
// meet at once: they stay in its L2 cache, and each group's quants are
// expanded for the tile kernel once per block of them.
const packedActBlockBytes = 1 << 20

// packedTask is one packed MatMul: first tiles of 16 activation rows are
// quantized, then (dots set) ranges of weight groups are computed.
type packedTask struct {
	act        kernels.PackedActivations
	xs, out    []float32
	n, m, k    int
	weights    []byte
	groupBytes int
	work       []workerScratch
	dots       bool
}

func (t *packedTask) run(worker, lo, hi int) {
	if !t.dots {
		for tile := lo; tile < hi; tile++ {
			for i := tile * kernels.PackRows; i < min(t.n, (tile+1)*kernels.PackRows); i++ {
				t.act.Quantize(i, t.xs[i*t.k:(i+1)*t.k])
			}
			if t.act.TilesWanted() {
				t.act.Transpose(tile)
			}
		}
		return
	}
	block := max(kernels.PackRows, packedActBlockBytes/max(t.act.RowBytes, 1)/kernels.PackRows*kernels.PackRows)
	s := &t.work[worker].packed
	for i0 := 0; i0 < t.n; i0 += block {
		rows := min(block, t.n-i0)
		for g := lo; g < hi; g++ {
			kernels.PackedDots(t.weights[g*t.groupBytes:(g+1)*t.groupBytes], &t.act, i0, rows, t.out[g*kernels.PackRows:], t.m, s)
		}
	}
}
