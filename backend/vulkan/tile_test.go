package vulkan

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/conveyor-llm/conveyor/gguf"
)

// tilesTried are matmul tiles the tests and the benchmark compare.
var tilesTried = []mmTile{mmTileGPU, {16, 2}, {4, 8}, {1, 1}, {8, 4}, {16, 1}, {2, 32}, {32, 1}, {64, 1}, {4, 16}}

// TestMatMulTilesBitIdentical: the tile (rows and columns per workgroup)
// changes no output bit, for every weight type, decode and prefill shapes,
// both reductions; and the results stay within matmulTol of the CPU.
func TestMatMulTilesBitIdentical(t *testing.T) {
	for _, o := range []Options{{}, {NoSubgroups: true}} {
		e := newEnv(t, o)
		for _, typ := range allWeightTypes {
			for _, sh := range []struct{ m, k, n int }{{37, 256, 1}, {45, 512, 2}, {130, 256, 17}} {
				w := e.weight(typ, sh.m, sh.k)
				x := e.f32(sh.n, sh.k, 1)
				dst := e.alloc(gguf.TypeF32, sh.n, sh.m)
				var first []byte
				for _, tile := range tilesTried {
					e.poison(dst)
					e.vk.tile = tile
					e.vk.MatMul(dst.g, w.g, x.g)
					e.cpu.MatMul(dst.c, w.c, x.c)
					what := fmt.Sprintf("%s MatMul %v m=%d k=%d n=%d tile %v", e.vk.matmul, typ, sh.m, sh.k, sh.n, tile)
					e.check(what, dst, matmulTol)
					got, _ := e.read(dst)
					if first == nil {
						first = got
					} else if string(got) != string(first) {
						t.Errorf("%s: differs from tile %v", what, tilesTried[0])
					}
				}
				e.vk.tile = mmTile{}
			}
		}
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPUPerOp runs run once to warm up, then b.N times, and reports the
// process CPU time per op (run does ops of them) as metric.
func reportCPUPerOp(b *testing.B, run func(), ops int, metric string) {
	run()
	c0 := processCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run()
	}
	b.ReportMetric(float64((processCPU()-c0).Microseconds())/float64(ops*b.N), metric)
}

// BenchmarkMatMulTiles times the 110M shape's matmuls (dim 768, FFN 2048,
// vocab 32000) per tile, decode (n=1) and prefill (n=128), in process CPU
// time per matmul (lavapipe's threads are this process's; on a shared
// machine CPU time is steadier than wall time).
func BenchmarkMatMulTiles(b *testing.B) {
	shapes := []struct{ m, k int }{{768, 768}, {2048, 768}, {768, 2048}, {32000, 768}}
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		for _, n := range []int{1, 128} {
			for _, sh := range shapes {
				if n > 1 && sh.m == 32000 {
					continue
				}
				t := &testing.T{}
				e := newEnv(t, Options{})
				w := e.weight(typ, sh.m, sh.k)
				x := e.f32(n, sh.k, 1)
				dst := e.alloc(gguf.TypeF32, n, sh.m)
				out := make([]byte, dst.g.Bytes())
				for _, tile := range append([]mmTile{{}}, tilesTried...) {
					b.Run(fmt.Sprintf("%v/n=%d/%dx%d/tile=%d,%d", typ, n, sh.m, sh.k, tile.rows, tile.cols), func(b *testing.B) {
						e.vk.tile = tile
						reps := 10
						if n > 1 {
							reps = 2
						}
						run := func() {
							for i := 0; i < reps; i++ {
								e.vk.MatMul(dst.g, w.g, x.g)
								e.vk.noteWrite(e.vk.bind(x.g).span) // no reuse of quantized x
							}
							if err := e.vk.Read(dst.g, out); err != nil {
								b.Fatal(err)
							}
						}
						reportCPUPerOp(b, run, reps, "cpu-µs/matmul")
					})
				}
				e.vk.Close()
			}
		}
	}
}

// TestProfileCountsDispatches: with CONVEYOR_VK_PROFILE=1 every dispatch is
// charged to its shader, and results are unchanged.
func TestProfileCountsDispatches(t *testing.T) {
	t.Setenv(ProfileEnv, "1")
	e := newEnv(t, Options{})
	w := e.weight(gguf.TypeQ4_0, 37, 256)
	x := e.f32(3, 256, 1)
	dst := e.alloc(gguf.TypeF32, 3, 37)
	e.poison(dst)
	e.vk.MatMul(dst.g, w.g, x.g)
	e.cpu.MatMul(dst.c, w.c, x.c)
	e.check("profiled MatMul", dst, matmulTol)
	var names []string
	for l, r := range e.vk.prof.rows {
		if r.count == 0 {
			t.Errorf("%s: no dispatch counted", l)
		}
		names = append(names, l)
	}
	if len(names) != 2 { // quantize and the matmul
		t.Errorf("profiled shaders %v, want quantize and %s", names, e.vk.matmul)
	}
}
