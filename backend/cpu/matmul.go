package cpu

import (
	"fmt"
	"sync/atomic"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/kernels"
)

// MatMul computes dst = x · wᵀ. Each row of x is first converted to the weight
// format's dot type (quantized to Q8_0 for Q8_0 and Q4_0 weights, as llama.cpp
// does), then every output is one Format.Dot over a whole row, so its reduction
// order depends only on k, never on n or on how the work is split. The dots
// are computed in tiles (Format.DotTile: several weight rows against several
// activation rows, sharing loads but not arithmetic), so that in a batch each
// weight block is read once per tile of activation rows.
func (b *Backend) MatMul(dst, w, x backend.Tensor) {
	if x.Cols != w.Cols || dst.Rows != x.Rows || dst.Cols != w.Rows {
		panic(fmt.Sprintf("cpu: MatMul: dst %v, w %v, x %v", dst, w, x))
	}
	format := mustFormat(w.Type)
	if buf, err := hostBuffer(w); err == nil && !buf.inFile {
		if r, ok := b.packedFor(buf, w); ok {
			b.matMulPacked(dst, w, x, buf, r)
			return
		}
	}
	n, m, k := x.Rows, w.Rows, w.Cols

	aRowBytes := format.DotType.RowBytes(k)
	if need := n * aRowBytes; cap(b.scratch) < need {
		b.scratch = make([]byte, need)
	}
	t := &b.pool.matmul
	*t = matmulTask{
		format: format, n: n, m: m, k: k,
		xs: f32s(x), act: b.scratch[:n*aRowBytes], aRowBytes: aRowBytes,
		weights: raw(w), wRowBytes: int(w.RowBytes()), out: f32s(dst),
		packedActs: t.packedActs,
	}
	b.pool.parallelRange(n, 1, t)
	if n <= t.actBlock() {
		// All of x meets each weight tile at once: lay its rows out for
		// the tile kernels once here, not in each DotTile call.
		format.PackActs(&t.packedActs, t.act, aRowBytes, n, k)
		t.usePacked = true
	}
	// Split by groups of 4 weight rows so each thread streams its own part of
	// w, computing that part for every row of x.
	t.dots = true
	groups := (m + tileRows - 1) / tileRows
	if n <= decodeRows {
		// Decode, of one stream or a batch of a few: the threads take the
		// groups a run of grab at a time, so that one preempted on a busy
		// machine leaves its part to the others instead of making them
		// wait for it (each run is still a long stretch of w, streamed in
		// order).
		t.groups = groups
		t.grab = max(minGrab, groups/(grabsPerThread*b.pool.size()))
	}
	b.pool.parallelRange(groups, 4, t)
	*t = matmulTask{packedActs: t.packedActs}
}

const (
	// tileRows is the weight rows a task chunk is counted in.
	tileRows = 4
	// actBlockBytes bounds the activation rows a weight tile meets at once,
	// so that they stay in cache while the chunk's weights stream past.
	actBlockBytes = 256 << 10
	// A decode MatMul's threads take its groups of weight rows about
	// grabsPerThread runs a thread, of at least minGrab groups.
	grabsPerThread = 8
	minGrab        = 4
	// decodeRows is the most rows of x a MatMul shares out as decode: a
	// batch of streams has as little work per weight row as one stream.
	decodeRows = 16
)

// matmulTask is one MatMul: first the activation rows are converted (ranges
// over rows of x), then, with dots set, the outputs are computed (ranges over
// groups of tileRows weight rows).
type matmulTask struct {
	format    *kernels.Format
	n, m, k   int
	xs        []float32
	act       []byte
	aRowBytes int
	weights   []byte
	wRowBytes int
	out       []float32
	dots      bool
	// grab, if not 0, is the groups a thread takes at a time from next, up
	// to groups, in place of its own range (decode).
	grab, groups int
	next         atomic.Int64
	// usePacked is whether packedActs holds all of act, packed once for
	// every dotGroups (its buffer is kept from one MatMul to the next).
	usePacked  bool
	packedActs kernels.PackedActs
}

// actBlock is the most activation rows a weight tile meets at once, so that
// they stay in cache while the weights stream past.
func (t *matmulTask) actBlock() int {
	return max(tileRows, actBlockBytes/max(t.aRowBytes, 1)/tileRows*tileRows)
}

func (t *matmulTask) run(_, lo, hi int) {
	if !t.dots {
		for i := lo; i < hi; i++ {
			kernels.QuantizeActivations(t.format.DotType, t.act[i*t.aRowBytes:(i+1)*t.aRowBytes], t.xs[i*t.k:(i+1)*t.k])
		}
		return
	}
	if t.grab == 0 {
		t.dotGroups(lo, hi)
		return
	}
	for {
		g := int(t.next.Add(int64(t.grab))) - t.grab
		if g >= t.groups {
			return
		}
		t.dotGroups(g, min(g+t.grab, t.groups))
	}
}

// dotGroups computes the outputs of weight row groups [lo, hi).
func (t *matmulTask) dotGroups(lo, hi int) {
	j0, j1 := lo*tileRows, min(hi*tileRows, t.m)
	if t.usePacked {
		t.format.DotTilePacked(t.out[j0:], t.m, t.weights[j0*t.wRowBytes:], t.wRowBytes, j1-j0, &t.packedActs)
		return
	}
	block := t.actBlock()
	for i0 := 0; i0 < t.n; i0 += block {
		na := min(block, t.n-i0)
		t.format.DotTile(t.out[i0*t.m+j0:], t.m, t.weights[j0*t.wRowBytes:], t.wRowBytes, j1-j0,
			t.act[i0*t.aRowBytes:], t.aRowBytes, na, t.k)
	}
}
