#version 450
#extension GL_GOOGLE_include_directive : require
// route: each token's experts and their weights from its router logits, as
// backend.RouteRow chooses them (one workgroup per token).
//
// The choice is exact: `used` rounds, each taking the largest logit not yet
// taken, the lowest expert on ties; a NaN is never taken over a number
// unless it is the first expert not yet taken (RouteRow's scan starts there
// and nothing compares greater than a NaN). The weights differ from the CPU's
// by rounding only: exp in float32 and the softmax sum in float32, by a fixed
// tree, so a token's weights do not depend on its batch.
//
// GATING 0, softmax over all experts then the chosen renormalised (Qwen3-MoE,
// Mixtral); 1, softmax over the chosen logits alone (gpt-oss).
#include "common.glsl"

#define WG 64u
#define MAX_USED 64u
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint GATING = 0;

layout(std430, binding = 0) readonly buffer Lb { float L[]; };
layout(std430, binding = 1) writeonly buffer Ib { int IDS[]; };
layout(std430, binding = 2) writeonly buffer Wb { float WT[]; };

layout(push_constant) uniform P {
	uint lOff, idOff, wOff; // words
	uint n, experts, used;
} p;

shared float bestV[WG];
shared int bestI[WG];
shared int chosen[MAX_USED];
shared float partial[WG];

bool taken(int e, uint j) {
	for (uint i = 0u; i < j; i++) {
		if (chosen[i] == e) {
			return true;
		}
	}
	return false;
}

// beats reports whether candidate (v, i) wins over (w, k); -1 is no candidate.
bool beats(float v, int i, float w, int k) {
	return i >= 0 && (k < 0 || v > w || (v == w && i < k));
}

void main() {
	uint tok = flatGroup();
	uint tid = gl_LocalInvocationID.x;
	if (tok >= p.n) {
		return;
	}
	uint row = p.lOff + tok * p.experts;
	for (uint j = 0u; j < p.used; j++) {
		// This thread's best among experts tid, tid+WG, ... (numbers only).
		float bv = 0.0;
		int bi = -1;
		for (uint e = tid; e < p.experts; e += WG) {
			float v = L[row + e];
			if (!isnan(v) && !taken(int(e), j) && (bi < 0 || v > bv)) {
				bv = v;
				bi = int(e);
			}
		}
		bestV[tid] = bv;
		bestI[tid] = bi;
		barrier();
		for (uint s = WG / 2u; s > 0u; s >>= 1) {
			if (tid < s && beats(bestV[tid + s], bestI[tid + s], bestV[tid], bestI[tid])) {
				bestV[tid] = bestV[tid + s];
				bestI[tid] = bestI[tid + s];
			}
			barrier();
		}
		if (tid == 0u) {
			int first = 0;
			while (taken(first, j)) {
				first++;
			}
			chosen[j] = (bestI[0] < 0 || isnan(L[row + uint(first)])) ? first : bestI[0];
		}
		barrier();
	}

	float mx = L[row + uint(chosen[0])];
	float inv = 0.0;
	if (GATING == 0u) {
		float sum = 0.0;
		for (uint e = tid; e < p.experts; e += WG) {
			precise float s = sum + exp(L[row + e] - mx);
			sum = s;
		}
		partial[tid] = sum;
		barrier();
		for (uint s = WG / 2u; s > 0u; s >>= 1) {
			if (tid < s) {
				precise float a = partial[tid] + partial[tid + s];
				partial[tid] = a;
			}
			barrier();
		}
		inv = 1.0 / partial[0];
	}
	if (tid != 0u) {
		return;
	}
	uint out0 = tok * p.used;
	float w[MAX_USED];
	precise float total = 0.0;
	for (uint j = 0u; j < p.used; j++) {
		w[j] = exp(L[row + uint(chosen[j])] - mx);
		if (GATING == 0u) {
			w[j] *= inv;
		}
		total += w[j];
		IDS[p.idOff + out0 + j] = chosen[j];
	}
	if (GATING == 0u) {
		total = max(total, 6.103515625e-5);
		for (uint j = 0u; j < p.used; j++) {
			WT[p.wOff + out0 + j] = w[j] / total;
		}
	} else {
		float tinv = 1.0 / total;
		for (uint j = 0u; j < p.used; j++) {
			WT[p.wOff + out0 + j] = w[j] * tinv;
		}
	}
}
