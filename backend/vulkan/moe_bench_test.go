package vulkan

import (
	"fmt"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// moeTilesTried are matmul_id tiles the MoE benchmark compares (the zero
// tile: the one MatMulID picks).
var moeTilesTried = []mmTile{{}, mmTileGPU, {16, 1}, {8, 4}, {16, 4}}

// BenchmarkMatMulID times the 128-expert, 8-chosen shape's expert products
// (dim 512, expert width 256, Q4_K) for one token and for 64, in process CPU
// time per call, beside the dense MatMul of the same rows (what the chosen
// experts cost if their rows were one matrix).
func BenchmarkMatMulID(b *testing.B) {
	experts, used, m, k := 128, 8, 256, 512
	for _, n := range []int{1, 64} {
		t := &testing.T{}
		e := newEnv(t, Options{})
		logits := e.tiedLogits(n, experts)
		ids := e.alloc(gguf.TypeI32, n, used)
		weights := e.alloc(gguf.TypeF32, n, used)
		e.vk.Route(ids.g, weights.g, logits.g, backend.GatingSoftmax)
		w := e.weight(gguf.TypeQ4_K, experts*m, k)
		x := e.f32(n, k, 1)
		dst := e.alloc(gguf.TypeF32, n*used, m)
		out := make([]byte, dst.g.Bytes())
		reps := 10
		if n > 1 {
			reps = 2
		}
		measure := func(b *testing.B, op func()) {
			run := func() {
				for i := 0; i < reps; i++ {
					op()
					e.vk.noteWrite(e.vk.bind(x.g).span) // no reuse of the grouping or quantized x
				}
				if err := e.vk.Read(dst.g, out); err != nil {
					b.Fatal(err)
				}
			}
			reportCPUPerOp(b, run, reps, "cpu-µs/call")
		}
		for _, tile := range moeTilesTried {
			b.Run(fmt.Sprintf("n=%d/tile=%d,%d", n, tile.rows, tile.cols), func(b *testing.B) {
				e.vk.moe.tile = tile
				measure(b, func() { e.vk.MatMulID(dst.g, w.g, x.g, ids.g) })
			})
		}
		e.vk.moe.tile = mmTile{}
		dense := e.weight(gguf.TypeQ4_K, used*m, k)
		xd := e.f32(n, k, 1)
		dd := e.alloc(gguf.TypeF32, n, used*m)
		b.Run(fmt.Sprintf("n=%d/dense", n), func(b *testing.B) {
			measure(b, func() { e.vk.MatMul(dd.g, dense.g, xd.g) })
		})
		e.vk.Close()
	}
}
