#version 450
#extension GL_GOOGLE_include_directive : require
// elementwise: OP 0 add (D = A + B), OP 1 swiglu (D = silu(A) * B, A the gate).
#include "common.glsl"

layout(constant_id = 0) const uint OP = 0;
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Ab { float A[]; };
layout(std430, binding = 1) readonly buffer Bb { float B[]; };
layout(std430, binding = 2) writeonly buffer Db { float D[]; };

layout(push_constant) uniform P {
	uint aOff, bOff, dOff, count;
} p;

void main() {
	uint i = flatGroup() * 256u + gl_LocalInvocationID.x;
	if (i >= p.count) {
		return;
	}
	float a = A[p.aOff + i], b = B[p.bOff + i];
	if (OP == 0u) {
		D[p.dOff + i] = a + b;
	} else {
		precise float silu = a / (1.0 + exp(-a));
		D[p.dOff + i] = silu * b;
	}
}
