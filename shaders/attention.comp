#version 450
#extension GL_GOOGLE_include_directive : require
// attention: causal attention over a KV cache (F32 if KVTYPE is 0, F16 if 1).
// One workgroup per (head h, query row i) of sequence s at position p: scores
// over cache rows s*context + first..p, in that order, where first is 0, or
// p-window+1 with a sliding window; scores scaled, then soft-capped
// (cap*tanh(s/cap)) when cap > 0; softmax with the maximum
// subtracted, in F32; weighted sum of V rows in row order. Scores are
// recomputed in each of three passes (max, sum, weighted sum) rather than
// stored, so no scratch memory is needed whatever the context length.
// As ggml (and backend/cpu) do, an F16 cache meets q and the softmax weights
// rounded to F16.
#include "common.glsl"

layout(constant_id = 0) const uint KVTYPE = 0;
#define WG 64u
#define MAXD 8u // head dims up to WG*MAXD = 512
layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer Qb { float Q[]; };
layout(std430, binding = 1) readonly buffer Kb { uint K[]; };
layout(std430, binding = 2) readonly buffer Vb { uint V[]; };
layout(std430, binding = 3) readonly buffer Pb { int POS[]; };
layout(std430, binding = 4) readonly buffer Sb { int SEQ[]; };
layout(std430, binding = 5) writeonly buffer Db { float D[]; };

layout(push_constant) uniform P {
	uint qOff, kOff, vOff, posOff, seqOff, dOff; // words
	uint heads, kvHeads, headDim, context, cacheRows;
	float scale;
	float softCap; // > 0: cap scores at softCap*tanh(s/softCap)
	uint window;   // > 0: see only the last window positions
} p;

shared float qs[WG * MAXD];
shared float ws[WG];
shared float red[WG];

float kvAt(bool isK, uint row, uint d) {
	uint kvw = p.kvHeads * p.headDim;
	uint e = row * kvw + d;
	if (KVTYPE == 0u) {
		return uintBitsToFloat(isK ? K[p.kOff + e] : V[p.vOff + e]);
	}
	uint w = isK ? K[p.kOff + (e >> 1)] : V[p.vOff + (e >> 1)];
	return f16tof32((e & 1u) == 0u ? w : (w >> 16));
}

float score(uint row, uint kvh) {
	float s = 0.0;
	uint k0 = kvh * p.headDim;
	for (uint d = 0u; d < p.headDim; d++) {
		precise float prod = qs[d] * kvAt(true, row, k0 + d);
		s = s + prod;
	}
	precise float r = s * p.scale;
	if (p.softCap > 0.0) {
		precise float c = p.softCap * tanhR(r / p.softCap);
		return c;
	}
	return r;
}

void main() {
	uint h = gl_WorkGroupID.x;
	uint i = gl_WorkGroupID.y;
	uint tid = gl_LocalInvocationID.x;
	uint hd = p.headDim;
	uint width = p.heads * hd;
	uint kvh = h / (p.heads / p.kvHeads);
	int pos = POS[p.posOff + i];
	int seq = SEQ[p.seqOff + i];
	uint n = uint(pos) + 1u;
	uint base = uint(seq) * p.context;
	uint d0 = p.dOff + i * width + h * hd;
	if (pos < 0 || seq < 0 || n > p.context || base + n > p.cacheRows) {
		for (uint d = tid; d < hd; d += WG) {
			D[d0 + d] = uintBitsToFloat(0x7fc00000u); // NaN: out of range
		}
		return;
	}
	for (uint d = tid; d < hd; d += WG) {
		float qv = Q[p.qOff + i * width + h * hd + d];
		qs[d] = KVTYPE == 1u ? roundF16(qv) : qv;
	}
	barrier();
	uint first = 0u; // the first position this query sees
	if (p.window > 0u && n > p.window) {
		first = n - p.window;
	}
	uint cnt = n - first;
	base += first; // scores are over cache rows base + 0..cnt-1

	// Pass 1: the maximum score.
	float mx = uintBitsToFloat(0xff800000u);
	for (uint t = tid; t < cnt; t += WG) {
		mx = max(mx, score(base + t, kvh));
	}
	red[tid] = mx;
	barrier();
	for (uint s = WG / 2u; s > 0u; s >>= 1) {
		if (tid < s) {
			red[tid] = max(red[tid], red[tid + s]);
		}
		barrier();
	}
	mx = red[0];
	barrier();

	// Pass 2: the sum of exponentials, in row order.
	float sum = 0.0;
	for (uint t0 = 0u; t0 < cnt; t0 += WG) {
		uint t = t0 + tid;
		ws[tid] = t < cnt ? exp(score(base + t, kvh) - mx) : 0.0;
		barrier();
		if (tid == 0u) {
			uint m = min(WG, cnt - t0);
			for (uint j = 0u; j < m; j++) {
				sum += ws[j];
			}
		}
		barrier();
	}
	if (tid == 0u) {
		red[0] = 1.0 / sum;
	}
	barrier();
	float inv = red[0];

	// Pass 3: the weighted sum of V rows, each thread owning dims tid + WG*j.
	float acc[MAXD];
	for (uint j = 0u; j < MAXD; j++) {
		acc[j] = 0.0;
	}
	for (uint t0 = 0u; t0 < cnt; t0 += WG) {
		uint t = t0 + tid;
		if (t < cnt) {
			precise float w = exp(score(base + t, kvh) - mx) * inv;
			ws[tid] = KVTYPE == 1u ? roundF16(w) : w;
		}
		barrier();
		uint m = min(WG, cnt - t0);
		for (uint j = 0u; j < m; j++) {
			float w = ws[j];
			for (uint r = 0u; r < MAXD; r++) {
				uint d = tid + r * WG;
				if (d < hd) {
					precise float a = acc[r] + w * kvAt(false, base + t0 + j, kvh * hd + d);
					acc[r] = a;
				}
			}
		}
		barrier();
	}
	for (uint r = 0u; r < MAXD; r++) {
		uint d = tid + r * WG;
		if (d < hd) {
			D[d0 + d] = acc[r];
		}
	}
}
