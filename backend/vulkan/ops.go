package vulkan

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/cgo/vk"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Matmul tiling: a workgroup computes tile.rows weight rows for tile.cols
// rows of x (matmul.glsl's ROWS and NCOLS). Every output's reduction order
// depends only on k and the workgroup size, never on the tile, so the tile
// changes speed, not results (TestMatMulTilesBitIdentical).
type mmTile struct{ rows, cols uint32 }

// The tile on GPUs: many small workgroups.
const (
	mmRows       = 2
	mmCols       = 8
	mmRowsDecode = 4
)

var mmTileGPU = mmTile{mmRows, mmCols}

// matmulTile picks the tile for n rows of x. On a CPU device (lavapipe) a
// workgroup runs on one core, its fixed costs (the 64 invocations, the
// reduction tree, the barriers) are paid per workgroup and its loops run
// over every column of the tile, used or not; so a workgroup takes more
// weight rows and no more columns than x has. Measured on lavapipe
// (BenchmarkMatMulTiles, CPU time, the 110M shape) against the GPU tile
// 2x8: one row of x 3.6-4.1x faster with 16x1 (Q4_0 768x768, Q6_K 768x768
// and 32000x768), 128 rows 1.1-1.3x faster with 4x16.
func (b *Backend) matmulTile(n int) mmTile {
	if b.tile != (mmTile{}) {
		return b.tile
	}
	switch {
	case b.info.Type != "cpu" && n == 1:
		return mmTile{mmRowsDecode, 1}
	case b.info.Type != "cpu":
		return mmTileGPU
	case n == 1:
		return mmTile{16, 1}
	case n <= 4:
		return mmTile{8, 4}
	}
	return mmTile{4, 16}
}

// weightTypes are the types GetRows and MatMul read.
var weightTypes = map[gguf.Type]bool{
	gguf.TypeF32: true, gguf.TypeF16: true, gguf.TypeBF16: true, gguf.TypeQ4_0: true,
	gguf.TypeQ4_1: true, gguf.TypeQ5_0: true, gguf.TypeQ5_1: true, gguf.TypeQ8_0: true,
	gguf.TypeQ2_K: true, gguf.TypeQ3_K: true, gguf.TypeQ4_K: true, gguf.TypeQ5_K: true, gguf.TypeQ6_K: true,
	gguf.TypeIQ4_NL: true, gguf.TypeIQ4_XS: true, gguf.TypeMXFP4: true,
}

func mustWeight(op string, t backend.Tensor) {
	if !weightTypes[t.Type] {
		panic(fmt.Sprintf("vulkan: %s: weight type %v is not supported", op, t.Type))
	}
	if t.Cols%t.Type.BlockSize() != 0 {
		panic(fmt.Sprintf("vulkan: %s: %v: columns not a multiple of %d", op, t, t.Type.BlockSize()))
	}
}

// isQuant reports a block-quantized type (32-value blocks, or 256 for the
// K-quants and IQ4_XS).
func isQuant(t gguf.Type) bool { return t.BlockSize() > 1 }

// Modes of the quantize shader: the dot type of a weight type's activations.
const (
	quantQ8_0 uint32 = iota
	quantQ8_1
	quantQ8_K
)

// quantMode is the activation format the CPU dots w's type with.
func quantMode(t gguf.Type) uint32 {
	switch {
	case t == gguf.TypeQ4_1 || t == gguf.TypeQ5_1:
		return quantQ8_1
	case t.BlockSize() == 256:
		return quantQ8_K
	}
	return quantQ8_0
}

// rowsPerWindow is how many rows of rowBytes fit one binding.
func (b *Backend) rowsPerWindow(op string, rowBytes int64) int {
	per := (b.maxRange - b.align - 8) / rowBytes
	if per < 1 {
		panic(fmt.Sprintf("vulkan: %s: a row of %d bytes exceeds the %d-byte binding limit", op, rowBytes, b.maxRange))
	}
	return int(min(per, math.MaxInt32))
}

func ceil(a, b int) uint32 { return uint32((a + b - 1) / b) }

// GetRows copies rows ids[i] of table into dst row i as F32.
func (b *Backend) GetRows(dst, table, ids backend.Tensor) {
	mustType("GetRows", dst, gguf.TypeF32)
	mustType("GetRows", ids, gguf.TypeI32)
	mustWeight("GetRows", table)
	if ids.Rows != 1 {
		panic(fmt.Sprintf("vulkan: GetRows: ids %v must be one row", ids))
	}
	n := ids.Cols
	mustShape("GetRows", dst, n, table.Cols)
	if n == 0 {
		return
	}
	rowBytes := table.RowBytes()
	per := b.rowsPerWindow("GetRows", rowBytes)
	iv, dv := b.bind(ids), b.bind(dst)
	for lo := 0; lo < table.Rows; lo += per {
		hi := min(table.Rows, lo+per)
		wv := b.bindRange(table, int64(lo)*rowBytes, int64(hi-lo)*rowBytes)
		p := b.pipeline("get_rows", uint32(table.Type), weightLayout(table, wv))
		pc := push{}.u(uint32(wv.skip), uint32(rowBytes), uint32(table.Cols), uint32(n), iv.words(), dv.words(),
			uint32(lo), uint32(hi))
		b.dispatch(p, []view{wv, iv, dv}, []int{2}, pc, ceil(table.Cols, 256), uint32(n))
	}
}

// quantKey identifies activations quantized into b.quant.
type quantKey struct {
	x          span
	rows, cols int
	mode       uint32
}

// noteWrite invalidates the quantized activations (and MatMulID's grouping)
// when their source is written.
func (b *Backend) noteWrite(s span) {
	b.moeWritten(s)
	if b.quantValid && b.quantKey.x.overlaps(s) {
		b.quantValid = false
	}
}

// quantize converts x to int8 blocks as the CPU quantizes activations (mode
// quantQ8_0 and quantQ8_1: 32-value blocks, each 8 words of quants, a scale
// and a sum; quantQ8_K: 256-value blocks, each 64 words of quants, a float
// scale and 16 int32 sums) in b.quant, reusing the last result when x has not
// been written since. It returns the view and the word offsets of the quants,
// scales and sums.
func (b *Backend) quantize(x backend.Tensor, mode uint32) (view, uint32, uint32, uint32) {
	n, k := x.Rows, x.Cols
	bs, qWords, sWords := 32, 8, 1
	if mode == quantQ8_K {
		bs, qWords, sWords = 256, 64, 16
	}
	if k%bs != 0 {
		panic(fmt.Sprintf("vulkan: MatMul: x %v: k not a multiple of %d", x, bs))
	}
	nb := n * k / bs
	bytes := int64(nb) * int64(qWords+1+sWords) * 4
	if bytes > b.maxRange {
		panic(fmt.Sprintf("vulkan: MatMul: x %v too large to quantize in one binding", x))
	}
	if b.quant == nil || b.quant.Size < bytes {
		if b.quant != nil {
			b.deferred = append(b.deferred, b.quant)
			b.memoryReleased()
		}
		size := bytes
		if b.quant != nil {
			size = min(max(bytes, 2*b.quant.Size), b.maxRange)
		}
		q, err := b.dev.NewBuffer(size, false)
		if err != nil {
			panic(fmt.Sprintf("vulkan: MatMul: scratch of %d bytes: %v", size, err))
		}
		b.quant, b.quantValid = q, false
	}
	qv := view{
		bind:  vk.Binding{Buffer: b.quant.Handle, Offset: 0, Range: uint64(bytes)},
		span:  span{b.quant.Handle, 0, bytes},
		bound: span{b.quant.Handle, 0, bytes},
		bytes: bytes,
	}
	xv := b.bind(x)
	key := quantKey{xv.span, n, k, mode}
	qs, ds, ss := uint32(0), uint32(nb*qWords), uint32(nb*(qWords+1))
	if b.quantValid && b.quantKey == key {
		return qv, qs, ds, ss
	}
	if !b.quantizeInNorm(xv, qv, mode, n, k, qs, ds, ss) && !b.quantizeInSwiGLU(xv, qv, mode, n, k, qs, ds, ss) {
		gx, gy := grid(int(ceil(nb, 64)))
		b.dispatch(b.pipeline("quantize", mode), []view{xv, qv}, []int{1}, push{}.u(xv.words(), uint32(k), uint32(n), qs, ds, ss), gx, gy)
	}
	b.quantKey, b.quantValid = key, true
	return qv, qs, ds, ss
}

// MatMul computes dst = x · wᵀ.
func (b *Backend) MatMul(dst, w, x backend.Tensor) {
	mustType("MatMul", dst, gguf.TypeF32)
	mustType("MatMul", x, gguf.TypeF32)
	mustWeight("MatMul", w)
	if x.Cols != w.Cols || dst.Rows != x.Rows || dst.Cols != w.Rows {
		panic(fmt.Sprintf("vulkan: MatMul: dst %v, w %v, x %v", dst, w, x))
	}
	n, m, k := x.Rows, w.Rows, w.Cols
	if n == 0 || m == 0 {
		return
	}
	tile := b.matmulTile(n)
	if n > 65535*int(tile.cols) {
		panic(fmt.Sprintf("vulkan: MatMul: %d rows of x", n))
	}
	dv := b.bind(dst)
	xv := b.bind(x)
	var qs, ds, ss uint32
	if isQuant(w.Type) {
		xv, qs, ds, ss = b.quantize(x, quantMode(w.Type))
	}
	b.fuse.matmul = nil
	if b.useTiled(w, n) {
		b.matMulTiled(dst, w, xv, dv, qs, ds, ss)
		return
	}
	rowBytes := w.RowBytes()
	per := min(b.rowsPerWindow("MatMul", rowBytes), 65535*int(tile.rows))
	for lo := 0; lo < m; lo += per {
		hi := min(m, lo+per)
		wv := b.bindRange(w, int64(lo)*rowBytes, int64(hi-lo)*rowBytes)
		spec := [5]uint32{uint32(w.Type), tile.rows, tile.cols, 0, weightLayout(w, wv)}
		p := b.pipeline(b.matmul, spec[:]...)
		xw := uint32(0)
		if !isQuant(w.Type) {
			xw = xv.words()
		}
		pc := push{}.u(uint32(wv.skip), uint32(rowBytes), uint32(hi-lo), uint32(k), uint32(n), xw, qs, ds, ss,
			dv.words()+uint32(lo), uint32(m))
		// Bindings 4 to 8 are the fused epilogue's (fuse.go); unused, dst.
		views := []view{wv, xv, xv, dv, dv, dv, dv, dv, dv}
		barriers := b.stats.Barriers
		b.dispatch(p, views, []int{3}, pc, ceil(hi-lo, int(tile.rows)), ceil(n, int(tile.cols)))
		if lo == 0 && hi == m {
			b.noteMatMul(views, pc, spec, n, m, b.stats.Barriers > barriers)
		}
	}
}

// RMSNorm computes dst = x / sqrt(mean(x²) + eps) * w per row.
func (b *Backend) RMSNorm(dst, x, w backend.Tensor, eps float32) {
	for _, t := range []backend.Tensor{dst, x, w} {
		mustType("RMSNorm", t, gguf.TypeF32)
	}
	mustShape("RMSNorm", dst, x.Rows, x.Cols)
	mustShape("RMSNorm weight", w, 1, x.Cols)
	if x.Rows == 0 {
		return
	}
	xv, wv, dv := b.bind(x), b.bind(w), b.bind(dst)
	if b.normIntoMatMul(xv, wv, dv, x.Rows, x.Cols, eps) {
		return
	}
	gx, gy := grid(x.Rows)
	pc := push{}.u(xv.words(), wv.words(), dv.words(), uint32(x.Cols), uint32(x.Rows)).f(eps)
	views := []view{xv, wv, dv, dv} // binding 3, the quants, only when fused
	b.dispatch(b.pipeline("rms_norm", 0), views, []int{2}, pc, gx, gy)
	b.noteNorm(views, pc, x.Rows, x.Cols)
}

// Modes of the elementwise shader.
const (
	ewAdd uint32 = iota
	ewSwiGLU
	ewGeGLU
	ewAddRow
	ewScale
	ewGELU
	ewSoftCap
)

// elementwise runs the elementwise shader in mode on dst and x (and y, the
// same shape, or for ewAddRow one row of x.Cols; for unary modes y is x),
// with the scalar f.
func (b *Backend) elementwise(op string, mode uint32, dst, x, y backend.Tensor, f float32) {
	for _, t := range []backend.Tensor{dst, x, y} {
		mustType(op, t, gguf.TypeF32)
	}
	mustShape(op, x, dst.Rows, dst.Cols)
	if mode == ewAddRow {
		mustShape(op+" row", y, 1, dst.Cols)
	} else {
		mustShape(op, y, dst.Rows, dst.Cols)
	}
	count := dst.Rows * dst.Cols
	if count == 0 {
		return
	}
	xv, yv, dv := b.bind(x), b.bind(y), b.bind(dst)
	gx, gy := grid(int(ceil(count, 256)))
	pc := push{}.u(xv.words(), yv.words(), dv.words(), uint32(count), uint32(dst.Cols)).f(f)
	b.dispatch(b.pipeline("elementwise", mode), []view{xv, yv, dv}, []int{2}, pc, gx, gy)
	if mode == ewSwiGLU {
		b.noteSwiGLU([]view{xv, yv, dv}, dst.Rows, dst.Cols)
	}
}

// Add computes dst = a + b, in the epilogue of the matmul just recorded
// when that computed a or b (fuse.go).
func (b *Backend) Add(dst, x, y backend.Tensor) {
	if b.addIntoMatMul(dst, x, y) {
		return
	}
	b.elementwise("Add", ewAdd, dst, x, y, 0)
}

// SwiGLU computes dst = silu(gate) * up.
func (b *Backend) SwiGLU(dst, gate, up backend.Tensor) {
	b.elementwise("SwiGLU", ewSwiGLU, dst, gate, up, 0)
}

// GeGLU computes dst = gelu(gate) * up, gelu in its tanh form.
func (b *Backend) GeGLU(dst, gate, up backend.Tensor) {
	b.elementwise("GeGLU", ewGeGLU, dst, gate, up, 0)
}

// AddRow adds the one-row tensor row to every row of x.
func (b *Backend) AddRow(dst, x, row backend.Tensor) {
	b.elementwise("AddRow", ewAddRow, dst, x, row, 0)
}

// Scale computes dst = x * s.
func (b *Backend) Scale(dst, x backend.Tensor, s float32) {
	b.elementwise("Scale", ewScale, dst, x, x, s)
}

// GELU computes dst = gelu(x) in its tanh form.
func (b *Backend) GELU(dst, x backend.Tensor) { b.elementwise("GELU", ewGELU, dst, x, x, 0) }

// SoftCap computes dst = c * tanh(x / c).
func (b *Backend) SoftCap(dst, x backend.Tensor, c float32) {
	b.elementwise("SoftCap", ewSoftCap, dst, x, x, c)
}

// LayerNorm computes dst = (x - mean) / sqrt(var + eps) * w + bias per row.
func (b *Backend) LayerNorm(dst, x, w, bias backend.Tensor, eps float32) {
	for _, t := range []backend.Tensor{dst, x, w, bias} {
		mustType("LayerNorm", t, gguf.TypeF32)
	}
	mustShape("LayerNorm", dst, x.Rows, x.Cols)
	mustShape("LayerNorm weight", w, 1, x.Cols)
	mustShape("LayerNorm bias", bias, 1, x.Cols)
	if x.Rows == 0 || x.Cols == 0 {
		return
	}
	xv, wv, bv, dv := b.bind(x), b.bind(w), b.bind(bias), b.bind(dst)
	gx, gy := grid(x.Rows)
	pc := push{}.u(xv.words(), wv.words(), bv.words(), dv.words(), uint32(x.Cols), uint32(x.Rows)).f(eps)
	b.dispatch(b.pipeline("layer_norm"), []view{xv, wv, bv, dv}, []int{3}, pc, gx, gy)
}

// factorBuffer uploads RoPE frequency factors once per distinct content.
func (b *Backend) factorBuffer(fs []float32) backend.Tensor {
	raw := make([]byte, 4*len(fs))
	for i, f := range fs {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	key := string(raw)
	t := backend.Tensor{Type: gguf.TypeF32, Rows: 1, Cols: len(fs)}
	if m := b.factors[key]; m != nil {
		t.Buf = m
		return t
	}
	buf, err := b.Alloc(int64(len(raw)))
	if err != nil {
		panic(fmt.Sprintf("vulkan: RoPE factors: %v", err))
	}
	t.Buf = buf
	if err := b.Write(t, raw); err != nil {
		panic(fmt.Sprintf("vulkan: RoPE factors: %v", err))
	}
	b.factors[key] = buf.(*buffer)
	return t
}

// RoPE rotates x in place by the positions pos.
func (b *Backend) RoPE(x, pos backend.Tensor, p backend.RoPE) {
	mustType("RoPE", x, gguf.TypeF32)
	mustType("RoPE", pos, gguf.TypeI32)
	if pos.Rows != 1 || x.Rows != pos.Cols || p.HeadDim <= 0 || x.Cols%p.HeadDim != 0 || p.Dims > p.HeadDim ||
		p.Dims%2 != 0 || (len(p.Factors) > 0 && len(p.Factors) < p.Dims/2) {
		panic(fmt.Sprintf("vulkan: RoPE: x %v, pos %v, head dim %d, rotated dims %d, %d factors", x, pos, p.HeadDim, p.Dims, len(p.Factors)))
	}
	total := x.Rows * (x.Cols / p.HeadDim) * (p.Dims / 2)
	if total == 0 {
		return
	}
	thetaScale := float32(math.Pow(float64(p.FreqBase), float64(float32(-2)/float32(p.Dims))))
	freqScale := p.FreqScale
	if freqScale == 0 {
		freqScale = 1
	}
	xv, pv := b.bind(x), b.bind(pos)
	fv, has := pv, uint32(0)
	if len(p.Factors) > 0 {
		fv, has = b.bind(b.factorBuffer(p.Factors[:p.Dims/2])), 1
	}
	gx, gy := grid(int(ceil(total, 64)))
	pc := push{}.u(xv.words(), pv.words(), fv.words(), has, uint32(x.Rows), uint32(x.Cols), uint32(p.HeadDim),
		uint32(p.Dims), uint32(p.Mode)).f(thetaScale).f(freqScale).f(p.ExtFactor).f(p.CorrDims[0]).f(p.CorrDims[1]).f(p.MScale)
	b.dispatch(b.pipeline("rope"), []view{xv, pv, fv}, []int{0}, pc, gx, gy)
	b.noteRoPE([]view{xv, pv, fv}, pc, x, p)
}

// String describes the backend.
func (b *Backend) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "vulkan %s", b.Device())
	return s.String()
}
