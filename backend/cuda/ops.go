package cuda

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unsafe"

	"github.com/conveyor-llm/conveyor/backend"
	cu "github.com/conveyor-llm/conveyor/cgo/cuda"
	"github.com/conveyor-llm/conveyor/gguf"
)

// The elementwise kernel's ops (shaders/cuda/elementwise.cu).
const (
	ewAdd = iota
	ewAddRow
	ewScale
	ewSwiGLU
	ewGELU
	ewGeGLU
	ewSoftCap
	ewSwiGLUOAI
	ewMul
)

// matvecTile is the x rows one prefill block computes (the _x8 kernels).
const matvecTile = 8

// direct reports whether the mat-vec kernels read weight type t as it is.
func direct(t gguf.Type) bool {
	switch t {
	case gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0:
		return true
	}
	return false
}

func matvecKernel(t gguf.Type, tile bool) string {
	name := map[gguf.Type]string{gguf.TypeF32: "matvec_f32", gguf.TypeF16: "matvec_f16",
		gguf.TypeQ8_0: "matvec_q8_0", gguf.TypeQ4_0: "matvec_q4_0"}[t]
	if tile {
		name += "_x8"
	}
	return name
}

// quantizeX records the conversion of x (rows x k, F32) to Q8_0 in the
// scratch buffer and returns where its quants and scales are.
func (b *Backend) quantizeX(x backend.Tensor) (qs, ds cu.DevPtr, ok bool) {
	plan, err := planQ8(x.Rows, x.Cols)
	if err != nil {
		b.keep(err)
		return 0, 0, false
	}
	if b.q8 == nil || b.q8.size < plan.total {
		size := grow(0, plan.total)
		if b.q8 != nil {
			size = grow(b.q8.size, plan.total)
			b.Free(b.q8)
		}
		m, err := b.Alloc(size)
		if err != nil {
			b.keep(err)
			return 0, 0, false
		}
		b.q8, b.q8Valid = m.(*buffer), false
	}
	qs, ds = b.q8.ptr+cu.DevPtr(plan.quants), b.q8.ptr+cu.DevPtr(plan.scales)
	if b.q8Valid && b.q8Of == x {
		return qs, ds, true
	}
	blocks := x.Rows * x.Cols / 32
	const warps = 8
	b.launch("matmul", "quantize_q8", dims((blocks+warps-1)/warps, 1, 1), dims(warps*32, 1, 1),
		new(cu.Args).Ptr(b.ptr(x)).Ptr(qs).Ptr(ds).Int(blocks))
	b.q8Of, b.q8Valid = x, b.err == nil
	return qs, ds, true
}

// MatMul computes dst = x · wᵀ.
func (b *Backend) MatMul(dst, w, x backend.Tensor) {
	if x.Cols != w.Cols || dst.Rows != x.Rows || dst.Cols != w.Rows {
		panic(fmt.Sprintf("cuda: MatMul: dst %v, w %v, x %v", dst, w, x))
	}
	mustType("MatMul", x, gguf.TypeF32)
	mustType("MatMul", dst, gguf.TypeF32)
	b.matvec(dst, w, x, backend.Tensor{}, x.Rows, 1)
}

// matvec records dst rows (n of them) = x · wᵀ; with ids, per MatMulID.
func (b *Backend) matvec(dst, w, x, ids backend.Tensor, n, xdiv int) {
	if n == 0 || dst.Cols == 0 {
		return
	}
	if !direct(w.Type) {
		var ok bool
		if w, ok = b.expand(w); !ok {
			return
		}
	}
	var qs, ds cu.DevPtr
	if w.Type == gguf.TypeQ8_0 || w.Type == gguf.TypeQ4_0 {
		var ok bool
		if qs, ds, ok = b.quantizeX(x); !ok {
			return
		}
	}
	m, k := dst.Cols, w.Cols
	tile := n > 1 && ids.Buf == nil
	nr := 1
	if tile {
		nr = matvecTile
	}
	var idp cu.DevPtr
	if ids.Buf != nil {
		idp = b.ptr(ids)
	}
	const warps = 4 // MV_WARPS
	a := new(cu.Args).Ptr(b.ptr(w)).U64(uint64(w.RowBytes())).Ptr(b.ptr(x)).Ptr(qs).Ptr(ds).Ptr(b.ptr(dst)).
		Int(n).Int(m).Int(k).Ptr(idp).Int(xdiv)
	b.launch("matmul", matvecKernel(w.Type, tile), dims((m+warps-1)/warps, (n+nr-1)/nr, 1), dims(warps*32, 1, 1), a)
}

// MatMulID is MatMul over each token's chosen experts.
func (b *Backend) MatMulID(dst, w, x, ids backend.Tensor) {
	mustType("MatMulID", ids, gguf.TypeI32)
	n, used := ids.Rows, ids.Cols
	m := dst.Cols
	if dst.Rows != n*used || w.Rows%max(m, 1) != 0 || x.Cols != w.Cols || (x.Rows != n && x.Rows != n*used) {
		panic(fmt.Sprintf("cuda: MatMulID: dst %v, w %v, x %v, ids %v", dst, w, x, ids))
	}
	xdiv := 1
	if x.Rows == n && used > 1 {
		xdiv = used
	}
	b.matvec(dst, w, x, ids, n*used, xdiv)
}

// GetRows copies rows ids[i] of table into dst row i as F32.
func (b *Backend) GetRows(dst, table, ids backend.Tensor) {
	mustType("GetRows", ids, gguf.TypeI32)
	mustType("GetRows", dst, gguf.TypeF32)
	mustShape("GetRows", dst, ids.Cols, table.Cols)
	if ids.Cols == 0 {
		return
	}
	if !direct(table.Type) {
		var ok bool
		if table, ok = b.expand(table); !ok {
			return
		}
	}
	b.launch("rows", "get_rows", dims(ids.Cols, 1, 1), dims(256, 1, 1),
		new(cu.Args).Ptr(b.ptr(dst)).Ptr(b.ptr(table)).U64(uint64(table.RowBytes())).Ptr(b.ptr(ids)).
			Int(table.Cols).Int(int(table.Type)))
}

// RMSNorm normalises each row by its root mean square, times w.
func (b *Backend) RMSNorm(dst, x, w backend.Tensor, eps float32) {
	mustShape("RMSNorm", dst, x.Rows, x.Cols)
	mustShape("RMSNorm weight", w, 1, x.Cols)
	if x.Rows == 0 {
		return
	}
	b.launch("norm", "rms_norm", dims(x.Rows, 1, 1), dims(256, 1, 1),
		new(cu.Args).Ptr(b.ptr(x)).Ptr(b.ptr(w)).Ptr(b.ptr(dst)).Int(x.Cols).F32(eps))
}

// LayerNorm normalises each row to mean 0 and variance 1, times w plus bias.
func (b *Backend) LayerNorm(dst, x, w, bias backend.Tensor, eps float32) {
	mustShape("LayerNorm", dst, x.Rows, x.Cols)
	mustShape("LayerNorm weight", w, 1, x.Cols)
	mustShape("LayerNorm bias", bias, 1, x.Cols)
	if x.Rows == 0 {
		return
	}
	b.launch("norm", "layer_norm", dims(x.Rows, 1, 1), dims(256, 1, 1),
		new(cu.Args).Ptr(b.ptr(x)).Ptr(b.ptr(w)).Ptr(b.ptr(bias)).Ptr(b.ptr(dst)).Int(x.Cols).F32(eps))
}

// elementwise records one elementwise op over dst's values.
func (b *Backend) elementwise(op string, code int, dst, a, other backend.Tensor, s, t float32) {
	mustType(op, dst, gguf.TypeF32)
	mustShape(op, a, dst.Rows, dst.Cols)
	n := int64(dst.Rows) * int64(dst.Cols)
	if n == 0 {
		return
	}
	var bp cu.DevPtr
	if other.Buf != nil {
		bp = b.ptr(other)
	}
	blocks, threads := elementwiseGrid(n)
	b.launch("elementwise", "elementwise", dims(int(blocks), 1, 1), dims(int(threads), 1, 1),
		new(cu.Args).Ptr(b.ptr(dst)).Ptr(b.ptr(a)).Ptr(bp).U64(uint64(n)).Int(dst.Cols).Int(code).F32(s).F32(t))
}

func (b *Backend) Add(dst, x, y backend.Tensor) {
	mustShape("Add", y, dst.Rows, dst.Cols)
	b.elementwise("Add", ewAdd, dst, x, y, 0, 0)
}

func (b *Backend) AddRow(dst, x, row backend.Tensor) {
	mustShape("AddRow row", row, 1, dst.Cols)
	b.elementwise("AddRow", ewAddRow, dst, x, row, 0, 0)
}

func (b *Backend) Scale(dst, x backend.Tensor, s float32) {
	b.elementwise("Scale", ewScale, dst, x, backend.Tensor{}, s, 0)
}

func (b *Backend) SwiGLU(dst, gate, up backend.Tensor) {
	mustShape("SwiGLU", up, dst.Rows, dst.Cols)
	b.elementwise("SwiGLU", ewSwiGLU, dst, gate, up, 0, 0)
}

func (b *Backend) GELU(dst, x backend.Tensor) {
	b.elementwise("GELU", ewGELU, dst, x, backend.Tensor{}, 0, 0)
}

func (b *Backend) GeGLU(dst, gate, up backend.Tensor) {
	mustShape("GeGLU", up, dst.Rows, dst.Cols)
	b.elementwise("GeGLU", ewGeGLU, dst, gate, up, 0, 0)
}

func (b *Backend) SoftCap(dst, x backend.Tensor, c float32) {
	b.elementwise("SoftCap", ewSoftCap, dst, x, backend.Tensor{}, c, 0)
}

func (b *Backend) SwiGLUOAI(dst, gate, up backend.Tensor, alpha, limit float32) {
	mustShape("SwiGLUOAI", up, dst.Rows, dst.Cols)
	b.elementwise("SwiGLUOAI", ewSwiGLUOAI, dst, gate, up, alpha, limit)
}

// RoPE rotates x in place by the positions pos.
func (b *Backend) RoPE(x, pos backend.Tensor, p backend.RoPE) {
	mustType("RoPE positions", pos, gguf.TypeI32)
	if x.Rows != pos.Cols || p.HeadDim <= 0 || x.Cols%p.HeadDim != 0 || p.Dims > p.HeadDim || p.Dims%2 != 0 {
		panic(fmt.Sprintf("cuda: RoPE: x %v, positions %v, head dim %d, rotated dims %d", x, pos, p.HeadDim, p.Dims))
	}
	pairs := int64(x.Rows) * int64(x.Cols/p.HeadDim) * int64(p.Dims/2)
	if pairs == 0 {
		return
	}
	var factors cu.DevPtr
	if len(p.Factors) > 0 {
		if len(p.Factors) < p.Dims/2 {
			panic(fmt.Sprintf("cuda: RoPE: %d frequency factors for %d rotated pairs", len(p.Factors), p.Dims/2))
		}
		f := b.factorsBuffer(p.Factors)
		if f == nil {
			return
		}
		factors = f.ptr
	}
	freqScale := p.FreqScale
	if freqScale == 0 {
		freqScale = 1
	}
	neox := 0
	if p.Mode == backend.RoPENeoX {
		neox = 1
	}
	// As the CPU computes it: float64 pow of the float32 exponent, rounded.
	thetaScale := float32(math.Pow(float64(p.FreqBase), float64(float32(-2)/float32(p.Dims))))
	const threads = 256
	b.launch("rope", "rope", dims(int((pairs+threads-1)/threads), 1, 1), dims(threads, 1, 1),
		new(cu.Args).Ptr(b.ptr(x)).Ptr(b.ptr(pos)).Ptr(factors).Int(x.Rows).Int(x.Cols).Int(p.HeadDim).Int(p.Dims).
			Int(neox).F32(thetaScale).F32(freqScale).F32(p.ExtFactor).F32(p.CorrDims[0]).F32(p.CorrDims[1]).F32(p.MScale))
}

// factorsBuffer is a device copy of RoPE frequency factors, one per content.
func (b *Backend) factorsBuffer(fs []float32) *buffer {
	raw := make([]byte, 4*len(fs))
	for i, f := range fs {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	if m, ok := b.factors[string(raw)]; ok {
		return m
	}
	m, err := b.Alloc(int64(len(raw)))
	if err != nil {
		b.keep(err)
		return nil
	}
	t := backend.Tensor{Buf: m, Type: gguf.TypeF32, Rows: 1, Cols: len(fs)}
	if b.Write(t, raw) != nil {
		return nil
	}
	b.factors[string(raw)] = m.(*buffer)
	return m.(*buffer)
}

// CheckKVTypes refuses keys and values of different types: the attention
// kernel reads both caches as one type.
func (b *Backend) CheckKVTypes(k, v gguf.Type) error {
	if k != v {
		return fmt.Errorf("the cuda backend reads keys and values of one cache type, not %s keys with %s values (give both one type, or use the cpu backend)",
			strings.ToLower(k.String()), strings.ToLower(v.String()))
	}
	return nil
}

// KVWrite copies src row i into cache row rows[i] (an F32 or F16 cache).
func (b *Backend) KVWrite(cache, src, rows backend.Tensor) {
	mustType("KVWrite rows", rows, gguf.TypeI32)
	mustShape("KVWrite", src, rows.Cols, cache.Cols)
	if cache.Type != gguf.TypeF32 && cache.Type != gguf.TypeF16 {
		b.unsupported("KVWrite into a cache", cache)
		return
	}
	if rows.Cols == 0 {
		return
	}
	f16 := 0
	if cache.Type == gguf.TypeF16 {
		f16 = 1
	}
	b.launch("rows", "kv_write", dims(rows.Cols, 1, 1), dims(256, 1, 1),
		new(cu.Args).Ptr(b.ptr(cache)).Ptr(b.ptr(src)).Ptr(b.ptr(rows)).Int(cache.Cols).Int(f16))
}

// attentionMaxDim is the largest head the attention kernel holds (ATT_MAX_DIM).
const attentionMaxDim = 256

// Attend computes causal attention over the KV cache, flash style.
func (b *Backend) Attend(dst, q, kCache, vCache, pos, seq backend.Tensor, p backend.Attention) {
	width, kvWidth := p.Heads*p.HeadDim, p.KVHeads*p.HeadDim
	if q.Cols != width || kCache.Cols != kvWidth || vCache.Cols != kvWidth || kCache.Rows != vCache.Rows ||
		p.KVHeads == 0 || p.Heads%p.KVHeads != 0 || pos.Cols != q.Rows || seq.Cols != q.Rows {
		panic(fmt.Sprintf("cuda: Attend: q %v, k %v, v %v, pos %v, %+v", q, kCache, vCache, pos, p))
	}
	mustShape("Attend", dst, q.Rows, width)
	if kCache.Type != vCache.Type || (kCache.Type != gguf.TypeF32 && kCache.Type != gguf.TypeF16) {
		b.unsupported("Attend over a cache", kCache)
		return
	}
	if p.HeadDim > attentionMaxDim {
		b.keep(fmt.Errorf("cuda: Attend: head dimension %d: not supported by the cuda backend (at most %d)", p.HeadDim, attentionMaxDim))
		return
	}
	if q.Rows == 0 {
		return
	}
	var sinks cu.DevPtr
	if p.Sinks.Buf != nil {
		mustShape("Attend sinks", p.Sinks, 1, p.Heads)
		sinks = b.ptr(p.Sinks)
	}
	f16 := 0
	if kCache.Type == gguf.TypeF16 {
		f16 = 1
	}
	const warps = 4 // ATT_WARPS
	b.launch("attention", "attention", dims(q.Rows*p.Heads, 1, 1), dims(warps*32, 1, 1),
		new(cu.Args).Ptr(b.ptr(dst)).Ptr(b.ptr(q)).Ptr(b.ptr(kCache)).Ptr(b.ptr(vCache)).Ptr(b.ptr(pos)).
			Ptr(b.ptr(seq)).Ptr(sinks).Int(p.Heads).Int(p.KVHeads).Int(p.HeadDim).Int(p.Context).F32(p.Scale).
			F32(p.SoftCap).Int(p.Window).Int(f16))
}

// ArgMax finds each row's largest value on the device and reads back only
// the indices.
func (b *Backend) ArgMax(x backend.Tensor, dst []int32) error {
	mustType("ArgMax", x, gguf.TypeF32)
	if len(dst) != x.Rows {
		return fmt.Errorf("cuda: ArgMax of %d rows into %d", x.Rows, len(dst))
	}
	if x.Rows == 0 {
		return nil
	}
	if x.Cols == 0 {
		clear(dst)
		return nil
	}
	need := int64(x.Rows) * 4
	if b.argmaxes == nil || b.argmaxes.size < need {
		if b.argmaxes != nil {
			b.Free(b.argmaxes)
		}
		m, err := b.Alloc(grow(0, need))
		if err != nil {
			return err
		}
		b.argmaxes = m.(*buffer)
	}
	out := backend.Tensor{Buf: b.argmaxes, Type: gguf.TypeI32, Rows: 1, Cols: x.Rows}
	b.launch("argmax", "argmax", dims(x.Rows, 1, 1), dims(256, 1, 1),
		new(cu.Args).Ptr(b.ptr(x)).Ptr(b.ptr(out)).Int(x.Cols))
	return b.Read(out, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), 4*len(dst)))
}

// Route chooses experts on the host (backend.RouteRow), so every backend
// routes alike: it reads the router logits back and writes ids and weights.
func (b *Backend) Route(ids, weights, logits backend.Tensor, g backend.Gating) {
	n, used := ids.Rows, ids.Cols
	mustShape("Route weights", weights, n, used)
	if logits.Rows != n {
		panic(fmt.Sprintf("cuda: Route: logits %v for %d tokens", logits, n))
	}
	raw := make([]byte, logits.Bytes())
	if b.Read(logits, raw) != nil {
		return
	}
	ls := unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(raw))), len(raw)/4)
	idv, wv := make([]int32, n*used), make([]float32, n*used)
	for i := range n {
		backend.RouteRow(idv[i*used:(i+1)*used], wv[i*used:(i+1)*used], ls[i*logits.Cols:(i+1)*logits.Cols], g)
	}
	b.keep(b.Write(ids, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(idv))), 4*len(idv))))
	b.keep(b.Write(weights, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(wv))), 4*len(wv))))
}

// MoESum adds each token's experts' outputs, weighted, in expert order.
func (b *Backend) MoESum(dst, x, weights backend.Tensor) {
	n, used := weights.Rows, weights.Cols
	mustShape("MoESum", dst, n, x.Cols)
	mustShape("MoESum x", x, n*used, dst.Cols)
	total := n * dst.Cols
	if total == 0 {
		return
	}
	b.launch("elementwise", "moe_sum", dims((total+255)/256, 1, 1), dims(256, 1, 1),
		new(cu.Args).Ptr(b.ptr(dst)).Ptr(b.ptr(x)).Ptr(b.ptr(weights)).Int(n).Int(used).Int(dst.Cols))
}
