package vulkan

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// The host fallback of Route and MatMulID (moe.go), for expert stacks the
// device path cannot bind: it waits for the device at each call, so a step
// that uses it is recorded afresh every time.

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

// routeHost is Route on the host: it reads the logits back, chooses with
// backend.RouteRow and writes the ids and weights.
func (b *Backend) routeHost(ids, weights, logits backend.Tensor, g backend.Gating) {
	n, k, e := ids.Rows, ids.Cols, logits.Cols
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

// matMulIDHost is MatMulID with the grouping on the host: it reads the ids
// back, gathers each expert's input rows, runs MatMul on each chosen
// expert's slice of the stack for all of its rows at once, and puts the
// outputs back in slot order.
func (b *Backend) matMulIDHost(dst, w, x, ids backend.Tensor) {
	n, used := ids.Rows, ids.Cols
	m, k := dst.Cols, w.Cols
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
