#version 450
#extension GL_GOOGLE_include_directive : require
// quantize: F32 activations to blocks of int8 with a scale, the way the CPU
// converts a matmul's x to its weight's dot type (MODE 0 Q8_0, 1 Q8_1, 2 Q8_K;
// see quant_block.glsl), one invocation per block, blk = row*nb + block.
#include "common.glsl"

layout(constant_id = 0) const uint MODE = 0;
layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer Xb { float X[]; };
layout(std430, binding = 1) writeonly buffer Qb { uint Q[]; };

layout(push_constant) uniform P {
	uint xOff;
	uint k;
	uint n;
	uint qsOff, dOff, sOff;
} p;

float qx(uint row, uint col) { return X[p.xOff + row * p.k + col]; }

#include "quant_block.glsl"

void main() {
	uint bs = MODE == 2u ? 256u : 32u;
	uint nb = p.k / bs;
	uint blk = flatGroup() * 64u + gl_LocalInvocationID.x;
	if (blk >= nb * p.n) {
		return;
	}
	uint row = blk / nb, b = blk % nb;
	if (MODE == 2u) {
		quantBlockK(row, b * 256u, blk, p.qsOff, p.dOff, p.sOff);
	} else {
		quantBlock32(MODE, row, b * 32u, blk, p.qsOff, p.dOff, p.sOff);
	}
}
