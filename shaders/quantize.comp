#version 450
#extension GL_GOOGLE_include_directive : require
// quantize: F32 activations to 32-value blocks of int8 with a scale, the way
// the CPU converts a matmul's x to its weight's dot type:
//   MODE 0 (Q8_0 activations): id = 127/amax, q = roundEven(x*id), d = f16(amax/127)
//   MODE 1 (Q8_1): d = amax/127, q = roundAway(x/d), s = f16(d*sum q), d stored as f16
// Output layout (words): qs at qsOff + blk*8 (4 quants a word), d at dOff + blk,
// s at sOff + blk, where blk = row*nb + block.
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

void main() {
	uint nb = p.k / 32u;
	uint blk = flatGroup() * 64u + gl_LocalInvocationID.x;
	if (blk >= nb * p.n) {
		return;
	}
	uint row = blk / nb, b = blk % nb;
	uint x0 = p.xOff + row * p.k + b * 32u;
	float amax = 0.0;
	for (uint j = 0u; j < 32u; j++) {
		amax = max(amax, abs(X[x0 + j]));
	}
	float d, id;
	if (MODE == 0u) {
		id = amax != 0.0 ? divCR(127.0, amax) : 0.0;
		d = divCR(amax, 127.0);
	} else {
		d = divCR(amax, 127.0);
		id = d != 0.0 ? divCR(1.0, d) : 0.0;
	}
	int sum = 0;
	for (uint w = 0u; w < 8u; w++) {
		uint word = 0u;
		for (uint t = 0u; t < 4u; t++) {
			precise float v = X[x0 + 4u * w + t] * id;
			int q = int(MODE == 0u ? roundEven(v) : roundAway(v));
			sum += q;
			word |= (uint(q) & 0xffu) << (8u * t);
		}
		Q[p.qsOff + blk * 8u + w] = word;
	}
	precise float s = float(sum) * d;
	Q[p.dOff + blk] = floatBitsToUint(roundF16(d));
	Q[p.sOff + blk] = floatBitsToUint(roundF16(s));
}
