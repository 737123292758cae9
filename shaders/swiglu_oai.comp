#version 450
#extension GL_GOOGLE_include_directive : require
// swiglu_oai: gpt-oss's clamped SwiGLU, as ggml's swiglu_oai:
// g = min(gate, limit), u = clamp(up, -limit, limit),
// D = g / (1 + e^(-alpha g)) * (u + 1). D may alias the gate or up.
#include "common.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Gb { float G[]; };
layout(std430, binding = 1) readonly buffer Ub { float U[]; };
layout(std430, binding = 2) writeonly buffer Db { float D[]; };

layout(push_constant) uniform P {
	uint gOff, uOff, dOff, count;
	float alpha, limit;
} p;

void main() {
	uint i = flatGroup() * 256u + gl_LocalInvocationID.x;
	if (i >= p.count) {
		return;
	}
	float g = min(G[p.gOff + i], p.limit);
	float u = min(max(U[p.uOff + i], -p.limit), p.limit);
	precise float ag = p.alpha * -g;
	precise float den = 1.0 + exp(ag);
	precise float r = divCR(g, den) * (u + 1.0);
	D[p.dOff + i] = r;
}
