#version 450
#extension GL_GOOGLE_include_directive : require
// deltanet_gates: the per-token gates of the gated delta rule, for value head
// j of token t: G[t][j] = beta = sigmoid(beta logit) and G[t][hv + j] =
// decay = exp(softplus(alpha logit + dtBias[j]) * a[j]). With GROUPED the
// logits come from the fused ba projection (per key head, the beta logits of
// its value heads, then their alpha logits) and ALPHA is not read.
#include "common.glsl"

layout(constant_id = 0) const uint GROUPED = 0;
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Bb { float BETA[]; };
layout(std430, binding = 1) readonly buffer Ab { float ALPHA[]; };
layout(std430, binding = 2) readonly buffer Tb { float DT[]; };
layout(std430, binding = 3) readonly buffer Cb { float A[]; };
layout(std430, binding = 4) writeonly buffer Gb { float G[]; };

layout(push_constant) uniform P {
	uint bOff, aOff, tOff, cOff, gOff;
	uint n, hv, per; // per: value heads per key head
} p;

// softplusF is log(1 + e^x), x itself above 20; log1p through the
// u = 1 + e correction, so that tiny e^x are not lost.
float softplusF(float x) {
	if (x > 20.0) {
		return x;
	}
	float e = exp(x);
	float u = 1.0 + e;
	if (u == 1.0) {
		return e;
	}
	precise float r = log(u) * (e / (u - 1.0));
	return r;
}

void main() {
	uint i = flatGroup() * 64u + gl_LocalInvocationID.x;
	if (i >= p.n * p.hv) {
		return;
	}
	uint t = i / p.hv, j = i % p.hv, hv = p.hv, per = p.per;
	float bl, al;
	if (GROUPED != 0u) {
		uint base = p.bOff + t * 2u * hv + (j / per) * 2u * per;
		bl = BETA[base + j % per];
		al = BETA[base + per + j % per];
	} else {
		bl = BETA[p.bOff + i];
		al = ALPHA[p.aOff + i];
	}
	precise float beta = 1.0 / (1.0 + exp(-bl));
	precise float ga = al + DT[p.tOff + j];
	precise float gd = softplusF(ga) * A[p.cOff + j];
	G[p.gOff + t * 2u * hv + j] = beta;
	G[p.gOff + t * 2u * hv + hv + j] = exp(gd);
}
