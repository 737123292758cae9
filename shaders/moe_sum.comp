#version 450
#extension GL_GOOGLE_include_directive : require
// moe_sum: D[i][c] = sum over j of W[i][j] * X[i*used+j][c], each product
// rounded to float, then added in order j = 0, 1, ... (as the CPU backend's
// MoESum: the weighted sum of a token's chosen experts).
#include "common.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Xb { float X[]; };
layout(std430, binding = 1) readonly buffer Wb { float W[]; };
layout(std430, binding = 2) writeonly buffer Db { float D[]; };

layout(push_constant) uniform P {
	uint xOff, wOff, dOff;
	uint n, used, cols;
} p;

void main() {
	uint e = flatGroup() * 256u + gl_LocalInvocationID.x;
	if (e >= p.n * p.cols) {
		return;
	}
	uint i = e / p.cols, c = e % p.cols;
	precise float acc = X[p.xOff + (i * p.used) * p.cols + c] * W[p.wOff + i * p.used];
	for (uint j = 1u; j < p.used; j++) {
		precise float prod = X[p.xOff + (i * p.used + j) * p.cols + c] * W[p.wOff + i * p.used + j];
		acc = acc + prod;
	}
	D[p.dOff + e] = acc;
}
