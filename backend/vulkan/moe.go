package vulkan

import (
	"fmt"
	"strings"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Mixture of experts, on the device: nothing is read back inside a forward
// pass, so a MoE step is recorded once and replayed like any other.
//
// Route runs route.comp, one workgroup per token: the same experts as
// backend.RouteRow (the CPU's choice, ties to the lower id), weights equal to
// the CPU's up to rounding (exp and the softmax sum in float32).
//
// MatMulID runs moe_group.comp, which groups the slots (token i's j-th
// expert) by expert and cuts each expert's rows into tiles of at most mmCols;
// get_rows gathers the inputs in grouped order; matmul_id, the matmul shader
// whose workgroup row y takes tile y's expert and rows from the table, reads
// each selected expert's weights once for all of its rows in one dispatch
// over all experts; a second get_rows puts the outputs back in slot order.
// Each output is the matmul shader's dot product, whatever the batch, so
// batch invariance holds as for MatMul. The shared input of the gate and up
// products is grouped and gathered once (moeGroupKey).
//
// An expert stack too large for one binding is multiplied a window of
// whole experts at a time, each window with its own tile table. Only an
// expert larger than a binding, or more than maxRouteExperts experts, falls
// back to grouping on the host (moe_host.go).

const (
	maxRouteExperts = 1024 // moe_group.comp's shared arrays
	maxRouteUsed    = 64   // route.comp's shared list
)

// moeScratch is MatMulID's device scratch, grown as needed.
type moeScratch struct {
	lists    *buffer // I32: gather rows, then scatter rows
	tiles    *buffer // matmul_id's tile table
	act, out *buffer // F32: gathered inputs, grouped outputs
	key      moeGroupKey
	valid    bool    // lists, tiles and act hold key's grouping
	idx      *buffer // the host fallback's gather and scatter rows
	hostOnly bool    // tests: always the host fallback
	tile     mmTile  // tests: when set, matmul_id's tile
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
	b.moe.valid = false
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

// moeGroupKey names what MatMulID's scratch holds: the grouping of ids and
// the inputs x gathered in grouped order, while no op has written either.
type moeGroupKey struct {
	ids, x, act          span
	slots, used, experts int
	layout               moeLayout
	shared               bool
}

// Route chooses each token's experts and their weights on the device
// (route.comp).
func (b *Backend) Route(ids, weights, logits backend.Tensor, g backend.Gating) {
	mustType("Route", ids, gguf.TypeI32)
	mustType("Route", weights, gguf.TypeF32)
	mustType("Route", logits, gguf.TypeF32)
	n, used, experts := ids.Rows, ids.Cols, logits.Cols
	mustShape("Route weights", weights, n, used)
	mustShape("Route logits", logits, n, experts)
	if used == 0 || used > experts {
		panic(fmt.Sprintf("vulkan: Route: %d experts of %d", used, experts))
	}
	if g != backend.GatingSoftmax && g != backend.GatingTopKSoftmax {
		panic(fmt.Sprintf("vulkan: Route: unknown gating %d", g))
	}
	if n == 0 {
		return
	}
	if b.moe.hostOnly || used > maxRouteUsed {
		b.routeHost(ids, weights, logits, g)
		return
	}
	lv, iv, wv := b.bind(logits), b.bind(ids), b.bind(weights)
	gx, gy := grid(n)
	pc := push{}.u(lv.words(), iv.words(), wv.words(), uint32(n), uint32(experts), uint32(used))
	b.dispatch(b.pipeline("route", uint32(g)), []view{lv, iv, wv}, []int{1, 2}, pc, gx, gy)
}

// MatMulID computes MatMul for each token's chosen experts, grouped by
// expert on the device (see above).
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
	lay, ok := b.moeLayout(w, n, slots, experts)
	if !ok {
		b.moe.valid = false
		b.matMulIDHost(dst, w, x, ids)
		return
	}
	act := b.moeGroup(x, ids, slots, used, experts, lay)
	ob := b.moeBuf(&b.moe.out, int64(slots*m*4))
	out := backend.Tensor{Buf: ob, Type: gguf.TypeF32, Rows: slots, Cols: m}
	ov, xv := b.bind(out), b.bind(act)
	var qs, ds, ss uint32
	if isQuant(w.Type) {
		xv, qs, ds, ss = b.quantize(act, quantMode(w.Type))
	}
	xw := uint32(0)
	if !isQuant(w.Type) {
		xw = xv.words()
	}
	name := strings.Replace(b.matmul, "matmul", "matmul_id", 1)
	b.fuse.matmul = nil
	expertBytes := int64(m) * w.RowBytes()
	for win := range lay.windows {
		e0, e1 := win*lay.perWindow, min(experts, (win+1)*lay.perWindow)
		wv := b.bindRange(w, int64(e0)*expertBytes, int64(e1-e0)*expertBytes)
		tv := b.bind(lay.table(b.moe.tiles, win))
		if tv.skip != 0 {
			panic("vulkan: MatMulID: tile table not at the start of its binding")
		}
		pc := push{}.u(uint32(wv.skip), uint32(w.RowBytes()), uint32(m), uint32(k), uint32(slots), xw, qs, ds, ss,
			ov.words(), uint32(m))
		views := []view{wv, xv, xv, ov, ov, ov, ov, ov, ov, tv}
		p := b.pipeline(name, uint32(w.Type), lay.tile.rows, lay.tile.cols, 0, weightLayout(w, wv))
		b.dispatch(p, views, []int{3}, pc, ceil(m, int(lay.tile.rows)), uint32(lay.tiles))
	}
	lt := backend.Tensor{Buf: b.moe.lists, Type: gguf.TypeI32, Rows: 1, Cols: 2 * slots}
	b.GetRows(dst, out, lt.Columns(slots, 2*slots))
}

// moeLayout is how matmul_id covers a stack: its tile, the experts of each
// binding of the stack (a window), and each window's tile table: tiles
// entries from word w*stride of moe.tiles (stride keeps each table at an
// aligned binding offset).
type moeLayout struct {
	tile               mmTile
	perWindow, windows int
	tiles, stride      int
}

// moeLayout lays out MatMulID of w for n tokens' slots on the device; false
// where it cannot (an expert larger than a binding, too many experts, tiles
// or rows for the grid), which leaves the host fallback.
func (b *Backend) moeLayout(w backend.Tensor, n, slots, experts int) (moeLayout, bool) {
	m := w.Rows / experts
	l := moeLayout{tile: b.moeTile(n, slots, experts), perWindow: experts}
	if w.Bytes()+b.align+8 > b.maxRange {
		l.perWindow = int(min(int64(experts), (b.maxRange-b.align-8)/(int64(m)*w.RowBytes())))
	}
	if b.moe.hostOnly || l.perWindow < 1 || experts > maxRouteExperts || m > 65535*int(l.tile.rows) {
		return l, false
	}
	l.windows = (experts + l.perWindow - 1) / l.perWindow
	l.tiles = moeTiles(slots, min(experts, l.perWindow), int(l.tile.cols))
	l.stride = int((int64(12*l.tiles)+b.align-1)&^(b.align-1)) / 4
	return l, l.tiles <= 65535
}

// table is window win's tile table in tiles.
func (l moeLayout) table(tiles *buffer, win int) backend.Tensor {
	t := backend.Tensor{Buf: tiles, Type: gguf.TypeI32, Rows: 1, Cols: l.windows * l.stride}
	return t.Columns(win*l.stride, win*l.stride+3*l.tiles)
}

// moeTiles bounds the tiles of cols rows of slots grouped by expert: each
// of at most min(experts, slots) experts chosen leaves one tile at most
// cols-1 rows short, and no tile is empty.
func moeTiles(slots, experts, cols int) int {
	return min(slots, (slots+min(experts, slots)*(cols-1))/cols)
}

// moeTile is matmul_id's tile: the matmul tile for the rows an expert
// gets on average (n tokens' slots spread over the experts chosen), with 16
// weight rows where a CPU device's tile has 4 columns or fewer: an expert's
// few rows reuse each weight block less than a dense batch does, so the
// workgroup's fixed costs want more weight rows (BenchmarkMatMulID, 64 tokens
// of 128 experts choosing 8 on lavapipe: 16x4 1.25x less CPU time than 8x4).
func (b *Backend) moeTile(n, slots, experts int) mmTile {
	if b.moe.tile != (mmTile{}) {
		return b.moe.tile
	}
	chosen := min(slots, experts)
	t := b.matmulTile(min(n, (slots+chosen-1)/chosen))
	if b.info.Type == "cpu" && b.tile == (mmTile{}) && t.cols <= 4 {
		t.rows = 16
	}
	return t
}

// moeGroup groups the slots of ids by expert (moe_group.comp, into the
// lists and the tile table) and gathers x's rows in grouped order; it
// returns the gathered rows. Both are kept while neither ids nor x is
// written (the gate and up products share them).
func (b *Backend) moeGroup(x, ids backend.Tensor, slots, used, experts int, lay moeLayout) backend.Tensor {
	k := x.Cols
	shared := x.Rows != slots
	ab := b.moeBuf(&b.moe.act, int64(slots*k*4))
	act := backend.Tensor{Buf: ab, Type: gguf.TypeF32, Rows: slots, Cols: k}
	key := moeGroupKey{ids: b.bind(ids).span, x: b.bind(x).span, act: b.bind(act).span,
		slots: slots, used: used, experts: experts, layout: lay, shared: shared}
	if b.moe.valid && b.moe.key == key {
		return act
	}
	lb := b.moeBuf(&b.moe.lists, int64(8*slots))
	// Growing a buffer makes every kept graph stale: the tables, a window's
	// stride apart, get room for many windows at once.
	tb := b.moeBuf(&b.moe.tiles, max(64<<10, int64(4*lay.windows*lay.stride)))
	lt := backend.Tensor{Buf: lb, Type: gguf.TypeI32, Rows: 1, Cols: 2 * slots}
	tt := backend.Tensor{Buf: tb, Type: gguf.TypeI32, Rows: 1, Cols: lay.windows * lay.stride}
	iv, lv, tv := b.bind(ids), b.bind(lt), b.bind(tt)
	sharedInput := uint32(0)
	if shared {
		sharedInput = 1
	}
	pc := push{}.u(iv.words(), lv.words(), tv.words(), uint32(slots), uint32(used), uint32(experts), sharedInput,
		lay.tile.cols, uint32(lay.tiles), uint32(lay.perWindow), uint32(lay.stride))
	b.dispatch(b.pipeline("moe_group"), []view{iv, lv, tv}, []int{1, 2}, pc, 1, 1)
	b.GetRows(act, x, lt.Columns(0, slots))
	b.moe.key, b.moe.valid = key, true
	return act
}

// moeWritten forgets the kept grouping when s overlaps what it was made from.
func (b *Backend) moeWritten(s span) {
	k := &b.moe.key
	if b.moe.valid && (k.ids.overlaps(s) || k.x.overlaps(s) || k.act.overlaps(s)) {
		b.moe.valid = false
	}
}

func init() {
	shaderLayouts["moe_sum"] = [2]int{3, 24}
	shaderLayouts["route"] = [2]int{3, 24}
	shaderLayouts["moe_group"] = [2]int{3, 44}
	shaderLayouts["matmul_id"] = [2]int{10, 76}
	shaderLayouts["matmul_id_sg"] = [2]int{10, 76}
	shaderLayouts["matmul_id_dot"] = [2]int{10, 76}
	shaderLayouts["matmul_id_sg_dot"] = [2]int{10, 76}
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
