#version 450
#extension GL_GOOGLE_include_directive : require
// rope: rotary position embedding in place. One invocation per (row, head,
// pair i < dims/2): theta = pos * thetaScale^i (by repeated multiplication, as
// the CPU does), divided by factor i when given, times freqScale (or with
// YaRN blended with the unscaled angle, cos and sin times mscale). Mode 0 rotates
// (2i, 2i+1), mode 1 (NeoX) rotates (i, i + dims/2).
#include "common.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer Xb { float X[]; };
layout(std430, binding = 1) readonly buffer Pb { int pos[]; };
layout(std430, binding = 2) readonly buffer Fb { float F[]; };

layout(push_constant) uniform P {
	uint xOff, posOff, fOff, hasFactors;
	uint rows, cols, headDim, dims;
	uint mode;
	float thetaScale, freqScale;
	float extFactor, corr0, corr1, mscale; // YaRN when extFactor != 0 (see backend.RoPE)
} p;

#include "rope.glsl"

void main() {
	uint row, h, a, b;
	float y0, y1;
	ropePair(flatGroup() * 64u + gl_LocalInvocationID.x, row, h, a, b, y0, y1);
}
