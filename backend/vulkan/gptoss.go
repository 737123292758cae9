package vulkan

import "github.com/conveyor-llm/conveyor/backend"

// SwiGLUOAI computes gpt-oss's clamped SwiGLU (see backend.Backend).
func (b *Backend) SwiGLUOAI(dst, gate, up backend.Tensor, alpha, limit float32) {
	panic("vulkan: SwiGLUOAI is not implemented yet")
}
