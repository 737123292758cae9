#version 450
#extension GL_GOOGLE_include_directive : require
// rope_kv: rope.comp (in place) and, fused, kv_write.comp of the rotated
// rows: cache row R[row] = X row, as F32 (TYPE 0) or F16 (TYPE 1), written
// as the rotation produces it (fuse.go: RoPE(k) then KVWrite(cache, k)).
// Every value of a row must rotate (dims = headDim), and for F16 the pairs
// must be adjacent (mode 0) so each cache word comes from one invocation.
#include "common.glsl"

layout(constant_id = 0) const uint TYPE = 0;
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer Xb { float X[]; };
layout(std430, binding = 1) readonly buffer Pb { int pos[]; };
layout(std430, binding = 2) readonly buffer Fb { float F[]; };
layout(std430, binding = 3) readonly buffer Rb { int R[]; };
layout(std430, binding = 4) writeonly buffer Cb { uint C[]; };

layout(push_constant) uniform P {
	uint xOff, posOff, fOff, hasFactors;
	uint rows, cols, headDim, dims;
	uint mode;
	float thetaScale, freqScale;
	float extFactor, corr0, corr1, mscale;
	uint rOff, cOff, cacheRows; // words
} p;

#include "rope.glsl"

void main() {
	uint row, h, a, b;
	float y0, y1;
	if (!ropePair(flatGroup() * 64u + gl_LocalInvocationID.x, row, h, a, b, y0, y1)) {
		return;
	}
	int r = R[p.rOff + row];
	if (r < 0 || uint(r) >= p.cacheRows) {
		return;
	}
	if (TYPE == 0u) {
		C[p.cOff + uint(r) * p.cols + a] = floatBitsToUint(y0);
		C[p.cOff + uint(r) * p.cols + b] = floatBitsToUint(y1);
	} else {
		C[p.cOff + (uint(r) * p.cols + a) / 2u] = f32tof16(y0) | (f32tof16(y1) << 16);
	}
}
