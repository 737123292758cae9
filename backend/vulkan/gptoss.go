package vulkan

import (
	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// gpt-oss's ops. Its attention sinks are in the attention shader (Attend),
// YaRN in the rope shader (RoPE).

func init() { shaderLayouts["swiglu_oai"] = [2]int{3, 24} }

// SwiGLUOAI computes gpt-oss's clamped SwiGLU (see backend.Backend).
func (b *Backend) SwiGLUOAI(dst, gate, up backend.Tensor, alpha, limit float32) {
	for _, t := range []backend.Tensor{dst, gate, up} {
		mustType("SwiGLUOAI", t, gguf.TypeF32)
	}
	mustShape("SwiGLUOAI", gate, dst.Rows, dst.Cols)
	mustShape("SwiGLUOAI", up, dst.Rows, dst.Cols)
	count := dst.Rows * dst.Cols
	if count == 0 {
		return
	}
	gv, uv, dv := b.bind(gate), b.bind(up), b.bind(dst)
	gx, gy := grid(int(ceil(count, 256)))
	pc := push{}.u(gv.words(), uv.words(), dv.words(), uint32(count)).f(alpha).f(limit)
	b.dispatch(b.pipeline("swiglu_oai"), []view{gv, uv, dv}, []int{2}, pc, gx, gy)
}
