#version 450
#extension GL_GOOGLE_include_directive : require
// swiglu_quant: elementwise.comp's SwiGLU, D = silu(A) * B, fused with
// quantize.comp's MODE (0 Q8_0, 1 Q8_1, 2 Q8_K) of D's rows (fuse.go: the
// SwiGLU before a quantized matmul). One invocation per block; it reads its
// block's A and B before writing its D, so D may alias A or B.
#include "common.glsl"

layout(constant_id = 0) const uint MODE = 0;
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Ab { float A[]; };
layout(std430, binding = 1) readonly buffer Bb { float B[]; };
layout(std430, binding = 2) writeonly buffer Db { float D[]; };
layout(std430, binding = 3) writeonly buffer Qb { uint Q[]; };

layout(push_constant) uniform P {
	uint aOff, bOff, dOff;
	uint k, n;
	uint qsOff, qdOff, qsumOff;
} p;

// qx is D's value (row, col), as elementwise.comp computes it.
float qx(uint row, uint col) {
	uint i = row * p.k + col;
	float a = A[p.aOff + i];
	precise float silu = a / (1.0 + exp(-a));
	return silu * B[p.bOff + i];
}

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
		quantBlockK(row, b * 256u, blk, p.qsOff, p.qdOff, p.qsumOff);
	} else {
		quantBlock32(MODE, row, b * 32u, blk, p.qsOff, p.qdOff, p.qsumOff);
	}
	for (uint j = 0u; j < bs; j++) {
		D[p.dOff + row * p.k + b * bs + j] = qx(row, b * bs + j);
	}
}
