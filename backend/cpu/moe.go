package cpu

import (
	"fmt"
	"sync/atomic"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// Route chooses each token's experts (backend.RouteRow, row by row).
func (b *Backend) Route(ids, weights, logits backend.Tensor, g backend.Gating) {
	n, k := ids.Rows, ids.Cols
	mustShape("Route weights", weights, n, k)
	if logits.Rows != n || logits.Cols < k {
		panic(fmt.Sprintf("cpu: Route: logits %v for ids %v", logits, ids))
	}
	id, w, l := i32s(ids), f32s(weights), f32s(logits)
	e := logits.Cols
	for i := range n {
		backend.RouteRow(id[i*k:(i+1)*k], w[i*k:(i+1)*k], l[i*e:(i+1)*e], g)
	}
}

// MatMulID computes MatMul for each token's chosen experts. The activation
// rows are converted to the dot type once, then gathered expert by expert
// (the slots of a batch that chose expert e, in slot order), so that each
// expert's weights are read once for all of its tokens with Format.DotTile,
// as MatMul reads a whole matrix; the outputs are scattered back to their
// slots. Every output is one Format.Dot, as MatMul's: the same value
// whatever else is in the batch.
func (b *Backend) MatMulID(dst, w, x, ids backend.Tensor) {
	n, used := ids.Rows, ids.Cols
	m, k := dst.Cols, w.Cols
	if m == 0 || w.Rows%m != 0 || x.Cols != k || dst.Rows != n*used || (x.Rows != n && x.Rows != n*used) {
		panic(fmt.Sprintf("cpu: MatMulID: dst %v, w %v, x %v, ids %v", dst, w, x, ids))
	}
	if n == 0 {
		return
	}
	experts := w.Rows / m
	format := mustFormat(w.Type)
	wbuf, err := hostBuffer(w)
	if err != nil {
		panic(err)
	}
	if len(wbuf.packed) > 0 {
		b.unpackOverlapping(wbuf, w.Offset, w.Offset+w.Bytes())
	}
	idx := i32s(ids)
	slots := n * used
	shared := x.Rows == n && used > 1

	// order lists the slots grouped by expert; start[e] is where expert e's begin.
	t := &b.moe
	t.order = growInts(&t.order, slots)
	t.start = growInts(&t.start, experts+1)
	clear(t.start)
	for _, e := range idx {
		if e < 0 || int(e) >= experts {
			panic(fmt.Sprintf("cpu: MatMulID: expert %d of %d", e, experts))
		}
		t.start[e+1]++
	}
	for e := range experts {
		t.start[e+1] += t.start[e]
	}
	fill := growInts(&t.fill, experts)
	copy(fill, t.start[:experts])
	for s, e := range idx {
		t.order[fill[e]] = s
		fill[e]++
	}

	aRowBytes := format.DotType.RowBytes(k)
	need := (x.Rows + slots) * aRowBytes
	if cap(b.scratch) < need {
		b.scratch = make([]byte, need)
	}
	conv, gathered := b.scratch[:x.Rows*aRowBytes], b.scratch[x.Rows*aRowBytes:need]
	xs := f32s(x)
	if x.Rows <= 8 {
		// A decode step's few rows: cheaper here than a round trip to the
		// pool (and no closure to allocate).
		convertRows(format.DotType, conv, xs, k, 0, x.Rows)
	} else {
		b.pool.parallelFor(x.Rows, 1, func(lo, hi int) { convertRows(format.DotType, conv, xs, k, lo, hi) })
	}
	for g, s := range t.order {
		src := s
		if shared {
			src = s / used
		}
		copy(gathered[g*aRowBytes:(g+1)*aRowBytes], conv[src*aRowBytes:(src+1)*aRowBytes])
	}

	// Work units are groups of tileRows weight rows of one chosen expert.
	tiles := (m + tileRows - 1) / tileRows
	t.active = t.active[:0]
	for e := range experts {
		if t.start[e+1] > t.start[e] {
			t.active = append(t.active, e)
		}
	}
	t.out = growF32(&t.out, slots*m)
	t.format, t.m, t.k, t.tiles = format, m, k, tiles
	t.weights, t.wRowBytes = raw(w), int(w.RowBytes())
	t.act, t.aRowBytes = gathered, aRowBytes
	// The threads take the units a run of grab at a time, as a decode
	// MatMul's: one preempted on a busy machine leaves the rest to the
	// others instead of making them wait, and experts with more tokens
	// than others do not unbalance a static split.
	t.units = len(t.active) * tiles
	t.grab = max(minGrab, t.units/(grabsPerThread*b.pool.size()))
	t.next.Store(0)
	b.pool.parallelRange(t.units, 4, t)

	out := f32s(dst)
	for g, s := range t.order {
		copy(out[s*m:(s+1)*m], t.out[g*m:(g+1)*m])
	}
	t.weights, t.act = nil, nil
}

// convertRows converts rows [lo, hi) of xs (k values each) to typ in conv.
func convertRows(typ gguf.Type, conv []byte, xs []float32, k, lo, hi int) {
	rb := typ.RowBytes(k)
	for i := lo; i < hi; i++ {
		kernels.QuantizeActivations(typ, conv[i*rb:(i+1)*rb], xs[i*k:(i+1)*k])
	}
}

// moeTask is MatMulID's dot products: unit u is tile u%tiles of the active
// expert u/tiles, against all of that expert's gathered rows. The threads
// take units grab at a time from next, up to units.
type moeTask struct {
	order, start, fill, active []int
	out                        []float32
	format                     *kernels.Format
	m, k, tiles                int
	weights, act               []byte
	wRowBytes, aRowBytes       int
	units, grab                int
	next                       atomic.Int64
}

func (t *moeTask) run(_, _, _ int) {
	for {
		u := int(t.next.Add(int64(t.grab))) - t.grab
		if u >= t.units {
			return
		}
		t.dotUnits(u, min(u+t.grab, t.units))
	}
}

// dotUnits computes units [lo, hi).
func (t *moeTask) dotUnits(lo, hi int) {
	for u := lo; u < hi; {
		e := t.active[u/t.tiles]
		tile := u % t.tiles
		last := min(hi, (u/t.tiles+1)*t.tiles) // this expert's units in the chunk
		j0, j1 := tile*tileRows, min((tile+last-u)*tileRows, t.m)
		g0, g1 := t.start[e], t.start[e+1]
		block := max(tileRows, actBlockBytes/max(t.aRowBytes, 1)/tileRows*tileRows)
		for i0 := g0; i0 < g1; i0 += block {
			na := min(block, g1-i0)
			t.format.DotTile(t.out[i0*t.m+j0:], t.m, t.weights[(e*t.m+j0)*t.wRowBytes:], t.wRowBytes, j1-j0,
				t.act[i0*t.aRowBytes:], t.aRowBytes, na, t.k)
		}
		u = last
	}
}

// MoESum computes dst row i = sum_j weights[i][j] * x row i*used+j: each
// product rounded to float32, then added in order j = 0, 1, ... (llama.cpp
// multiplies the expert outputs by their weights, then adds the views).
func (b *Backend) MoESum(dst, x, weights backend.Tensor) {
	n, used, d := weights.Rows, weights.Cols, dst.Cols
	mustShape("MoESum", dst, n, d)
	mustShape("MoESum", x, n*used, d)
	out, xs, ws := f32s(dst), f32s(x), f32s(weights)
	for i := range n {
		o := out[i*d : (i+1)*d]
		for j := range used {
			wj, row := ws[i*used+j], xs[(i*used+j)*d:(i*used+j+1)*d]
			if j == 0 {
				for c, v := range row {
					o[c] = float32(v * wj)
				}
				continue
			}
			for c, v := range row {
				o[c] += float32(v * wj)
			}
		}
	}
}

func growInts(buf *[]int, n int) []int {
	if cap(*buf) < n {
		*buf = make([]int, n)
	}
	return (*buf)[:n]
}

func growF32(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return (*buf)[:n]
}
