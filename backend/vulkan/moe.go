package vulkan

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Mixture of experts. Routing happens on the host: Route reads the router
// logits back, chooses with backend.RouteRow (the CPU backend's choice, bit
// for bit) and writes the ids and weights; MatMulID reads the ids back,
// gathers each expert's input rows (GetRows over the F32 activations), runs
// the ordinary matmul shader on each chosen expert's slice of the stack for
// all of its rows at once, and puts the outputs back in slot order with a
// second GetRows. Each output is the matmul shader's, so batch invariance
// holds as for MatMul. The price is a wait for the device at each Route and
// MatMulID (a device-side grouping would remove it).

// moeScratch is MatMulID's device scratch, grown as needed.
type moeScratch struct {
	idx      *buffer // I32: gather rows, then scatter rows
	act, out *buffer // F32: gathered inputs, grouped outputs
	host     []byte
}

// moeBuf returns *buf with at least size bytes, reallocating it if need be.
func (b *Backend) moeBuf(buf **buffer, size int64) *buffer {
	if *buf != nil && (*buf).size >= size && (*buf).chunks != nil {
		return *buf
	}
	if *buf != nil {
		b.Free(*buf)
	}
	nb, err := b.Alloc(max(size, 2*sizeOf(*buf)))
	if err != nil {
		panic(fmt.Sprintf("vulkan: MoE scratch of %d bytes: %v", size, err))
	}
	*buf = nb.(*buffer)
	return *buf
}

func sizeOf(m *buffer) int64 {
	if m == nil {
		return 0
	}
	return m.size
}

func (b *Backend) readHost(t backend.Tensor) []byte {
	if need := int(t.Bytes()); cap(b.moe.host) < need {
		b.moe.host = make([]byte, need)
	}
	data := b.moe.host[:t.Bytes()]
	if err := b.Read(t, data); err != nil {
		panic(fmt.Sprintf("vulkan: reading %v: %v", t, err))
	}
	return data
}

// Route chooses each token's experts on the host (backend.RouteRow).
func (b *Backend) Route(ids, weights, logits backend.Tensor, g backend.Gating) {
	mustType("Route", ids, gguf.TypeI32)
	mustType("Route", weights, gguf.TypeF32)
	mustType("Route", logits, gguf.TypeF32)
	n, k, e := ids.Rows, ids.Cols, logits.Cols
	mustShape("Route weights", weights, n, k)
	mustShape("Route logits", logits, n, e)
	raw := b.readHost(logits)
	l := make([]float32, n*e)
	for i := range l {
		l[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	id, w := make([]int32, n*k), make([]float32, n*k)
	for i := range n {
		backend.RouteRow(id[i*k:(i+1)*k], w[i*k:(i+1)*k], l[i*e:(i+1)*e], g)
	}
	ib, wb := make([]byte, 4*n*k), make([]byte, 4*n*k)
	for i := range id {
		binary.LittleEndian.PutUint32(ib[4*i:], uint32(id[i]))
		binary.LittleEndian.PutUint32(wb[4*i:], math.Float32bits(w[i]))
	}
	if err := b.Write(ids, ib); err != nil {
		panic(err)
	}
	if err := b.Write(weights, wb); err != nil {
		panic(err)
	}
}

// MatMulID computes MatMul for each token's chosen experts (see above).
func (b *Backend) MatMulID(dst, w, x, ids backend.Tensor) {
	mustType("MatMulID", dst, gguf.TypeF32)
	mustType("MatMulID", x, gguf.TypeF32)
	mustType("MatMulID", ids, gguf.TypeI32)
	mustWeight("MatMulID", w)
	n, used := ids.Rows, ids.Cols
	m, k := dst.Cols, w.Cols
	if m == 0 || w.Rows%m != 0 || x.Cols != k || dst.Rows != n*used || (x.Rows != n && x.Rows != n*used) {
		panic(fmt.Sprintf("vulkan: MatMulID: dst %v, w %v, x %v, ids %v", dst, w, x, ids))
	}
	if n == 0 {
		return
	}
	experts, slots := w.Rows/m, n*used
	raw := b.readHost(ids)
	idx := make([]int32, slots)
	start := make([]int, experts+1)
	for s := range idx {
		idx[s] = int32(binary.LittleEndian.Uint32(raw[4*s:]))
		if idx[s] < 0 || int(idx[s]) >= experts {
			panic(fmt.Sprintf("vulkan: MatMulID: expert %d of %d", idx[s], experts))
		}
		start[idx[s]+1]++
	}
	for e := range experts {
		start[e+1] += start[e]
	}
	// gather[g] is the x row of grouped slot g; scatter[s] the grouped row of slot s.
	fill := append([]int(nil), start[:experts]...)
	lists := make([]byte, 8*slots)
	for s, e := range idx {
		g := fill[e]
		fill[e]++
		src := s
		if x.Rows == n && used > 1 {
			src = s / used
		}
		binary.LittleEndian.PutUint32(lists[4*g:], uint32(src))
		binary.LittleEndian.PutUint32(lists[4*(slots+s):], uint32(g))
	}
	ib := b.moeBuf(&b.moe.idx, int64(len(lists)))
	ab := b.moeBuf(&b.moe.act, int64(slots*k*4))
	ob := b.moeBuf(&b.moe.out, int64(slots*m*4))
	lt := backend.Tensor{Buf: ib, Type: gguf.TypeI32, Rows: 1, Cols: 2 * slots}
	if err := b.Write(lt, lists); err != nil {
		panic(err)
	}
	gather, scatter := lt.Columns(0, slots), lt.Columns(slots, 2*slots)
	act := backend.Tensor{Buf: ab, Type: gguf.TypeF32, Rows: slots, Cols: k}
	out := backend.Tensor{Buf: ob, Type: gguf.TypeF32, Rows: slots, Cols: m}
	b.GetRows(act, x, gather)
	for e := range experts {
		if start[e+1] > start[e] {
			b.MatMul(out.Slice(start[e], start[e+1]), w.Slice(e*m, (e+1)*m), act.Slice(start[e], start[e+1]))
		}
	}
	b.GetRows(dst, out, scatter)
}

// MoESum computes dst row i = sum_j weights[i][j] * x row i*used+j.
func (b *Backend) MoESum(dst, x, weights backend.Tensor) {
	for _, t := range []backend.Tensor{dst, x, weights} {
		mustType("MoESum", t, gguf.TypeF32)
	}
	n, used, d := weights.Rows, weights.Cols, dst.Cols
	mustShape("MoESum", dst, n, d)
	mustShape("MoESum", x, n*used, d)
	if n == 0 || d == 0 {
		return
	}
	xv, wv, dv := b.bind(x), b.bind(weights), b.bind(dst)
	gx, gy := grid(int(ceil(n*d, 256)))
	pc := push{}.u(xv.words(), wv.words(), dv.words(), uint32(n), uint32(used), uint32(d))
	b.dispatch(b.pipeline("moe_sum"), []view{xv, wv, dv}, []int{2}, pc, gx, gy)
}

func init() { shaderLayouts["moe_sum"] = [2]int{3, 24} }
