#version 450
// attention_combine: attention's second pass. One workgroup per (head h,
// query row i) folds the row's splits' partials (maximum m, sum l,
// unnormalized output o; attention.glsl) in split order, then head h's sink
// (gpt-oss) when there are sinks, and writes o·(1/l):
//   M' = max(M, m_s), L' = L·e^(M-M') + l_s·e^(m_s-M'), O' likewise.
// The number of splits is the row's own (its visible positions / SPLIT), so
// the result never depends on the batch.
layout(local_size_x = 64) in;
#define WG 64u
#define SPLIT 256u

layout(std430, binding = 0) readonly buffer Partb { float PART[]; };
layout(std430, binding = 1) readonly buffer Pb { int POS[]; };
layout(std430, binding = 2) readonly buffer Sb { int SEQ[]; };
layout(std430, binding = 3) writeonly buffer Db { float D[]; };
layout(std430, binding = 4) readonly buffer Sinkb { float SINK[]; }; // per query head, when hasSinks

layout(push_constant) uniform P {
	uint partOff, posOff, seqOff, dOff; // words
	uint heads, headDim, context, cacheRows, window, nSplits;
	uint sinkOff, hasSinks;
} p;

void main() {
	uint h = gl_WorkGroupID.x;
	uint i = gl_WorkGroupID.y;
	uint tid = gl_LocalInvocationID.x;
	uint hd = p.headDim;
	uint d0 = p.dOff + i * p.heads * hd + h * hd;
	int pos = POS[p.posOff + i];
	int seq = SEQ[p.seqOff + i];
	uint n = uint(pos) + 1u;
	uint base = uint(seq) * p.context;
	if (pos < 0 || seq < 0 || n > p.context || base + n > p.cacheRows) {
		for (uint d = tid; d < hd; d += WG) {
			D[d0 + d] = uintBitsToFloat(0x7fc00000u); // NaN: out of range
		}
		return;
	}
	uint cnt = n;
	if (p.window > 0u && n > p.window) {
		cnt = p.window;
	}
	uint splits = (cnt + SPLIT - 1u) / SPLIT;
	uint rec = p.partOff + (i * p.heads + h) * p.nSplits * (hd + 2u);
	float M = PART[rec], L = PART[rec + 1u];
	for (uint s = 1u; s < splits; s++) {
		uint r = rec + s * (hd + 2u);
		float ms = PART[r];
		float mn = max(M, ms);
		float a = exp(M - mn), b = exp(ms - mn);
		L = fma(PART[r + 1u], b, L * a);
		M = mn;
	}
	float sinkScale = 1.0;
	if (p.hasSinks != 0u) {
		float sink = SINK[p.sinkOff + h];
		float mn = max(M, sink);
		sinkScale = exp(M - mn);
		L = fma(L, sinkScale, exp(sink - mn));
	}
	float inv = 1.0 / L; // then o·inv, as the CPU
	for (uint d = tid; d < hd; d += WG) {
		float Mo = PART[rec], o = PART[rec + 2u + d];
		for (uint s = 1u; s < splits; s++) {
			uint r = rec + s * (hd + 2u);
			float ms = PART[r];
			float mn = max(Mo, ms);
			o = fma(PART[r + 2u + d], exp(ms - mn), o * exp(Mo - mn));
			Mo = mn;
		}
		precise float a = o * sinkScale;
		precise float r = a * inv;
		D[d0 + d] = r;
	}
}
