#version 450
#extension GL_GOOGLE_include_directive : require
// kv_write: cache row rows[i] = S row i, as F32 (TYPE 0) or F16 (TYPE 1; two
// values a word, so cols must be even).
#include "common.glsl"

layout(constant_id = 0) const uint TYPE = 0;
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Sb { float S[]; };
layout(std430, binding = 1) readonly buffer Rb { int R[]; };
layout(std430, binding = 2) writeonly buffer Cb { uint C[]; };

layout(push_constant) uniform P {
	uint sOff, rOff, cOff; // words
	uint cols, n, cacheRows;
} p;

void main() {
	uint words = TYPE == 0u ? p.cols : p.cols / 2u;
	uint w = gl_WorkGroupID.x * 256u + gl_LocalInvocationID.x;
	uint i = gl_WorkGroupID.y;
	if (w >= words || i >= p.n) {
		return;
	}
	int r = R[p.rOff + i];
	if (r < 0 || uint(r) >= p.cacheRows) {
		return;
	}
	uint s0 = p.sOff + i * p.cols;
	uint dst = p.cOff + uint(r) * words + w;
	if (TYPE == 0u) {
		C[dst] = floatBitsToUint(S[s0 + w]);
	} else {
		C[dst] = f32tof16(S[s0 + 2u * w]) | (f32tof16(S[s0 + 2u * w + 1u]) << 16);
	}
}
