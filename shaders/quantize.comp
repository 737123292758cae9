#version 450
#extension GL_GOOGLE_include_directive : require
// quantize: F32 activations to blocks of int8 with a scale, the way the CPU
// converts a matmul's x to its weight's dot type (MODE 2, Q8_K: see quantizeK):
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

// quantizeK (MODE 2, Q8_K, as kernels.quantizeQ8_K): per 256 values, with max
// the first value of largest magnitude, iscale = -127/max,
// q = min(127, roundEven(iscale*x)), d = 1/iscale (f32), and the 16 sums of
// 16 quants. An all-zero block is all zero. Layout (words): qs at
// qsOff + blk*64, d at dOff + blk, the sums (int32) at sOff + blk*16.
void quantizeK(uint blk) {
	uint nb = p.k / 256u;
	uint row = blk / nb, b = blk % nb;
	uint x0 = p.xOff + row * p.k + b * 256u;
	float amax = 0.0, maxv = 0.0;
	for (uint j = 0u; j < 256u; j++) {
		float v = X[x0 + j];
		if (abs(v) > amax) {
			amax = abs(v);
			maxv = v;
		}
	}
	float iscale = amax != 0.0 ? divCR(-127.0, maxv) : 0.0;
	for (uint g = 0u; g < 16u; g++) {
		int sum = 0;
		for (uint w = 0u; w < 4u; w++) {
			uint word = 0u;
			for (uint t = 0u; t < 4u; t++) {
				precise float v = iscale * X[x0 + 16u * g + 4u * w + t];
				int q = min(127, int(roundEven(v)));
				sum += q;
				word |= (uint(q) & 0xffu) << (8u * t);
			}
			Q[p.qsOff + blk * 64u + 4u * g + w] = word;
		}
		Q[p.sOff + blk * 16u + g] = uint(sum);
	}
	Q[p.dOff + blk] = floatBitsToUint(amax != 0.0 ? divCR(1.0, iscale) : 0.0);
}

void main() {
	if (MODE == 2u) {
		uint blk = flatGroup() * 64u + gl_LocalInvocationID.x;
		if (blk < p.k / 256u * p.n) {
			quantizeK(blk);
		}
		return;
	}
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
