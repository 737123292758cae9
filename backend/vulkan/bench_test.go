package vulkan

import (
	"fmt"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// BenchmarkMatMul times TinyLlama-shaped matmuls (5632 x 2048), decode and a
// small prefill, ten per Read.
func BenchmarkMatMul(b *testing.B) {
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeF16, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		for _, n := range []int{1, 16} {
			b.Run(fmt.Sprintf("%v/n=%d", typ, n), func(b *testing.B) {
				t := &testing.T{}
				e := newEnv(t, Options{})
				defer e.vk.Close()
				m, k := 5632, 2048
				w := e.weight(typ, m, k)
				x := e.f32(n, k, 1)
				dst := e.alloc(gguf.TypeF32, n, m)
				out := make([]byte, dst.g.Bytes())
				run := func() {
					for i := 0; i < 10; i++ {
						e.vk.MatMul(dst.g, w.g, x.g)
						e.vk.noteWrite(e.vk.bind(x.g).span) // no reuse of quantized x
					}
					if err := e.vk.Read(dst.g, out); err != nil {
						b.Fatal(err)
					}
				}
				run() // pipeline compile
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					run()
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(10*b.N), "µs/matmul")
				_ = backend.Tensor{}
			})
		}
	}
}
