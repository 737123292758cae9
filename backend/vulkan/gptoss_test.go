package vulkan

import (
	"fmt"
	"math"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// SwiGLUOAI agrees with the CPU within 1e-6 (relative), inputs spread past
// the clamp limit on both sides, in place too.
func TestSwiGLUOAI(t *testing.T) {
	e := newEnv(t, Options{})
	for _, rows := range []int{1, 9} {
		gate, up := e.f32(rows, 300, 6), e.f32(rows, 300, 6)
		dst := e.alloc(gguf.TypeF32, rows, 300)
		e.poison(dst)
		e.vk.SwiGLUOAI(dst.g, gate.g, up.g, 1.702, 7)
		e.cpu.SwiGLUOAI(dst.c, gate.c, up.c, 1.702, 7)
		e.check("SwiGLUOAI", dst, 1e-6)
		e.vk.SwiGLUOAI(gate.g, gate.g, up.g, 1.702, 7)
		e.cpu.SwiGLUOAI(gate.c, gate.c, up.c, 1.702, 7)
		e.check("SwiGLUOAI in place", gate, 1e-6)
	}
}

// RoPE with YaRN (gpt-oss's: factor 32 over an original context of 4096)
// agrees with the CPU within 1e-6, as the plain RoPE cases do.
func TestRoPEYaRN(t *testing.T) {
	e := newEnv(t, Options{})
	for i, p := range []backend.RoPE{
		{Mode: backend.RoPENeoX, HeadDim: 64, Dims: 64, FreqBase: 150000, FreqScale: 1.0 / 32,
			ExtFactor: 1, CorrDims: [2]float32{8.09, 17.4}, MScale: 1.3466},
		{Mode: backend.RoPENormal, HeadDim: 48, Dims: 32, FreqBase: 10000, FreqScale: 0.25,
			ExtFactor: 0.5, CorrDims: [2]float32{3, 3}, MScale: 1.1},
	} {
		x := e.f32(7, 3*p.HeadDim, 1)
		pos := e.i32([]int32{0, 1, 2, 17, 100, 4095, 31999})
		e.vk.RoPE(x.g, pos.g, p)
		e.cpu.RoPE(x.c, pos.c, p)
		e.check(fmt.Sprintf("RoPE YaRN case %d", i), x, 1e-6)
	}
}

// Attend with sinks (gpt-oss) agrees with the CPU on both caches, with and
// without a sliding window, sinks both below and above the scores: attendTol, as
// TestAttend.
func TestAttendSinks(t *testing.T) {
	e := newEnv(t, Options{})
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16} {
		for _, window := range []int{0, 8} {
			for _, sinkScale := range []float32{1, 20} {
				p := backend.Attention{Heads: 4, KVHeads: 2, HeadDim: 64, Context: 100, Window: window}
				p.Scale = float32(1 / math.Sqrt(float64(p.HeadDim)))
				seqs := 2
				k := e.rawWeight(typ, seqs*p.Context, p.KVHeads*p.HeadDim)
				v := e.rawWeight(typ, seqs*p.Context, p.KVHeads*p.HeadDim)
				sinks := e.f32(1, p.Heads, sinkScale)
				p.Sinks = sinks.g
				pos := e.i32([]int32{0, 1, 63, 64, 99, 5, 12})
				seq := e.i32([]int32{0, 1, 0, 1, 1, 0, 1})
				q := e.f32(7, p.Heads*p.HeadDim, 1)
				dst := e.alloc(gguf.TypeF32, 7, p.Heads*p.HeadDim)
				e.poison(dst)
				e.vk.Attend(dst.g, q.g, k.g, v.g, pos.g, seq.g, p)
				p.Sinks = sinks.c
				e.cpu.Attend(dst.c, q.c, k.c, v.c, pos.c, seq.c, p)
				e.check(fmt.Sprintf("Attend %v window %d sinks ×%g", typ, window, sinkScale), dst, attendTol(typ))
			}
		}
	}
}
