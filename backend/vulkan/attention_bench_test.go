package vulkan

import (
	"fmt"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// BenchmarkAttend times one layer's attention over an F16 cache: a decode
// row at position 1039 (as after bench -d 1024) and a 64-row prefill chunk
// ending there, in the TinyLlama shape (32 query heads on 4 KV heads of 64)
// and the 110M one (12 on 12), ten per Read; cpu-µs counts lavapipe's
// threads too, steadier than wall time on a shared machine.
func BenchmarkAttend(b *testing.B) {
	for _, shape := range []struct {
		name           string
		heads, kvHeads int
	}{{"tinyllama", 32, 4}, {"110M", 12, 12}} {
		for _, rows := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/rows=%d", shape.name, rows), func(b *testing.B) {
				t := &testing.T{}
				e := newEnv(t, Options{})
				defer e.vk.Close()
				c := attnCase{typ: gguf.TypeF16, heads: shape.heads, kvHeads: shape.kvHeads, hd: 64, context: 2048}
				p := c.params()
				k := e.rawWeight(gguf.TypeF16, c.context, c.kvHeads*c.hd)
				v := e.rawWeight(gguf.TypeF16, c.context, c.kvHeads*c.hd)
				pos := make([]int32, rows)
				seq := make([]int32, rows)
				for i := range pos {
					pos[i] = int32(1040 - rows + i)
				}
				pv, sv := e.i32(pos), e.i32(seq)
				q := e.f32(rows, c.heads*c.hd, 1)
				dst := e.alloc(gguf.TypeF32, rows, c.heads*c.hd)
				out := make([]byte, dst.g.Bytes())
				run := func() {
					for i := 0; i < 10; i++ {
						e.vk.Attend(dst.g, q.g, k.g, v.g, pv.g, sv.g, p)
					}
					if err := e.vk.Read(dst.g, out); err != nil {
						b.Fatal(err)
					}
				}
				run()
				c0 := cpuTime()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					run()
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(10*b.N), "µs/attend")
				b.ReportMetric(float64((cpuTime()-c0).Microseconds())/float64(10*b.N), "cpu-µs/attend")
			})
		}
	}
}
