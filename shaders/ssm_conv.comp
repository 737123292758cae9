#version 450
#extension GL_GOOGLE_include_directive : require
// ssm_conv: the causal depthwise convolution with SiLU of Gated DeltaNet
// layers (backend.Recurrent's SSMConv). One invocation per (sequence,
// channel) walks the batch's tokens of its sequence in order, so a token's
// result does not depend on the rest of the batch. The state holds per
// sequence the previous K-1 inputs, oldest first (K-1 rows of C).
#include "common.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Xb { float X[]; };
layout(std430, binding = 1) readonly buffer Wb { float W[]; };
layout(std430, binding = 2) buffer Sb { float S[]; };
layout(std430, binding = 3) readonly buffer Pb { int POS[]; };
layout(std430, binding = 4) readonly buffer Qb { int SEQ[]; };
layout(std430, binding = 5) writeonly buffer Db { float D[]; };

layout(push_constant) uniform P {
	uint xOff, wOff, sOff, pOff, qOff, dOff;
	uint n, c, k, seqs;
} p;

void main() {
	uint u = flatGroup() * 64u + gl_LocalInvocationID.x;
	if (u >= p.seqs * p.c) {
		return;
	}
	uint s = u / p.c, ch = u % p.c;
	uint k = p.k, c = p.c;
	uint hist = p.sOff + s * (k - 1u) * c; // row j of the history at hist + j*c
	for (uint t = 0u; t < p.n; t++) {
		if (uint(SEQ[p.qOff + t]) != s) {
			continue;
		}
		if (POS[p.pOff + t] == 0) {
			for (uint j = 0u; j + 1u < k; j++) {
				S[hist + j * c + ch] = 0.0;
			}
		}
		float x = X[p.xOff + t * c + ch];
		precise float sum = 0.0;
		for (uint j = 0u; j + 1u < k; j++) {
			precise float prod = W[p.wOff + ch * k + j] * S[hist + j * c + ch];
			sum = sum + prod;
		}
		precise float last = W[p.wOff + ch * k + k - 1u] * x;
		sum = sum + last;
		precise float silu = sum / (1.0 + exp(-sum));
		D[p.dOff + t * c + ch] = silu;
		for (uint j = 0u; j + 2u < k; j++) {
			S[hist + j * c + ch] = S[hist + (j + 1u) * c + ch];
		}
		if (k > 1u) {
			S[hist + (k - 2u) * c + ch] = x;
		}
	}
}
