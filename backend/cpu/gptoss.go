package cpu

import (
	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/kernels"
)

// SwiGLUOAI computes gpt-oss's clamped SwiGLU, as ggml's swiglu_oai:
// g = min(gate, limit), u = clamp(up, -limit, limit),
// dst = g / (1 + e^(-alpha g)) * (u + 1), in float32 (Exp32 for expf).
func (b *Backend) SwiGLUOAI(dst, gate, up backend.Tensor, alpha, limit float32) {
	mustShape("SwiGLUOAI", gate, dst.Rows, dst.Cols)
	mustShape("SwiGLUOAI", up, dst.Rows, dst.Cols)
	out, gs, us := f32s(dst), f32s(gate), f32s(up)
	for i := range out {
		g := min(gs[i], limit)
		u := min(max(us[i], -limit), limit)
		out[i] = g / (1 + kernels.Exp32(alpha*-g)) * (u + 1)
	}
}
