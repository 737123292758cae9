#version 450
#extension GL_GOOGLE_include_directive : require
// attention: causal attention over a KV cache (F32 if KVTYPE is 0, F16 if 1).
// One workgroup per (head h, query row i) of sequence s at position p: scores
// over cache rows s*context + first..p, in that order, where first is 0, or
// p-window+1 with a sliding window; scores scaled, then soft-capped
// (cap*tanh(s/cap)) when cap > 0.
//
// F16 cache: llama.cpp's flash attention, with the bits of the CPU backend
// (kernels.AttnFlashF16): q rounded to F16, scores in ggml_vec_dot_f16's
// order, an online softmax with kernels.Exp32, and an F16 accumulator
// rounded after every key. Keys go WG at a time: each thread scores one, the
// running maximum and sum are carried by thread 0 in key order, and each
// thread updates its own output dims key by key.
//
// F32 cache: softmax with the maximum subtracted, in F32; weighted sum of V
// rows in row order. Scores are recomputed in each of three passes (max,
// sum, weighted sum) rather than stored, so no scratch memory is needed
// whatever the context length.
//
// With sinks, head h's sink joins the maximum and the sum, not the weights:
// as the CPU's softmax (F32) and kernels.AttnFlashF16Sink (F16).
#include "common.glsl"

#define EXP_TABLE_HI(j) expHi[j]
#define EXP_TABLE_LO(j) expLo[j]

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
layout(std430, binding = 6) readonly buffer Kb2 { float SINK[]; }; // per query head, when hasSinks

layout(push_constant) uniform P {
	uint qOff, kOff, vOff, posOff, seqOff, dOff; // words
	uint heads, kvHeads, headDim, context, cacheRows;
	float scale;
	float softCap; // > 0: cap scores at softCap*tanh(s/softCap)
	uint window;   // > 0: see only the last window positions
	uint sinkOff, hasSinks; // gpt-oss's sinks: one more logit per head in the softmax's denominator
} p;

shared float qs[WG * MAXD];
shared float ws[WG];
shared float red[WG];
shared float expHi[64], expLo[64];
shared float mpS[WG], msS[WG], vsS[WG];

#include "attention_math.glsl"

float kvAt(bool isK, uint row, uint d) {
	uint kvw = p.kvHeads * p.headDim;
	uint e = row * kvw + d;
	if (KVTYPE == 0u) {
		return uintBitsToFloat(isK ? K[p.kOff + e] : V[p.vOff + e]);
	}
	uint w = isK ? K[p.kOff + (e >> 1)] : V[p.vOff + (e >> 1)];
	return f16tof32((e & 1u) == 0u ? w : (w >> 16));
}

// score is q·k for the F32 cache, summed in order, scaled and capped.
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

// scoreF16 is q·k for the F16 cache in kernels.AttnScoresF16's order: lane
// i of 64 sums the products of dims i, i+64, ...; lanes l, l+16, l+32, l+48
// combine as (l + l+32) + (l+16 + l+48), then halves 8 and 4 apart, then
// (0+2) + (1+3); dims past the last 64 are added in float-float.
float scoreF16(uint row, uint kvh) {
	uint hd = p.headDim;
	uint np = hd & ~63u;
	uint k0 = kvh * hd;
	float sum = 0.0;
	if (np > 0u) {
		float v[16];
		for (uint l = 0u; l < 16u; l++) {
			float g[4];
			for (uint gi = 0u; gi < 4u; gi++) {
				precise float acc = 0.0;
				for (uint c = 0u; c < np; c += 64u) {
					uint d = c + 16u * gi + l;
					precise float pr = qs[d] * kvAt(true, row, k0 + d);
					acc = acc + pr;
				}
				g[gi] = acc;
			}
			precise float vl = (g[0] + g[2]) + (g[1] + g[3]);
			v[l] = vl;
		}
		for (uint l = 0u; l < 8u; l++) {
			precise float a = v[l] + v[l + 8u];
			v[l] = a;
		}
		for (uint l = 0u; l < 4u; l++) {
			precise float a = v[l] + v[l + 4u];
			v[l] = a;
		}
		precise float s0 = (v[0] + v[2]) + (v[1] + v[3]);
		sum = s0;
	}
	precise float lo = 0.0;
	for (uint d = np; d < hd; d++) {
		precise float pr = qs[d] * kvAt(true, row, k0 + d);
		float e;
		twoSum(sum, pr, sum, e);
		lo = lo + e;
	}
	precise float r = sum + lo;
	return r;
}

// attendFlashF16 is the F16 cache's attention for workgroup (h, i): the
// online softmax of kernels.FlashWeights and the accumulator of
// kernels.AttnAccumulateF16, over cnt cache rows from base.
void attendFlashF16(uint tid, uint h, uint kvh, uint base, uint cnt, uint d0) {
	uint hd = p.headDim;
	if (tid < 64u) {
		float hi, lo;
		expEntry(tid, hi, lo);
		expHi[tid] = hi;
		expLo[tid] = lo;
	}
	float scale = p.scale;
	if (p.softCap > 0.0) {
		scale = divRN(scale, p.softCap);
	}
	float m = uintBitsToFloat(0xff800000u); // thread 0's running maximum
	float sum = 0.0;                         // and sum
	float acc[MAXD];
	for (uint r = 0u; r < MAXD; r++) {
		acc[r] = 0.0;
	}
	barrier();
	for (uint t0 = 0u; t0 < cnt; t0 += WG) {
		uint n = min(WG, cnt - t0);
		if (tid < n) {
			precise float s = scoreF16(base + t0 + tid, kvh) * scale;
			if (p.softCap > 0.0) {
				s = p.softCap * tanh32(s);
			}
			ws[tid] = s;
		}
		barrier();
		if (tid == 0u) {
			for (uint j = 0u; j < n; j++) {
				mpS[j] = m;
				if (ws[j] > m) {
					m = ws[j];
				}
			}
		}
		barrier();
		if (tid < n) {
			float s = ws[tid], mp = mpS[tid];
			float ms = 1.0, vs = 1.0;
			if (s > mp) {
				precise float x = mp - s;
				ms = exp32(x);
			} else {
				precise float x = s - mp;
				vs = exp32(x);
			}
			msS[tid] = ms;
			vsS[tid] = vs;
		}
		barrier();
		if (tid == 0u) {
			for (uint j = 0u; j < n; j++) {
				precise float s = (sum * msS[j]) + vsS[j];
				sum = s;
			}
		}
		for (uint j = 0u; j < n; j++) {
			float ms = msS[j], vs = vsS[j];
			float vh, vl;
			splitV(vs, vh, vl);
			uint row = base + t0 + j;
			for (uint r = 0u; r < MAXD; r++) {
				uint d = tid + r * WG;
				if (d < hd) {
					if (ms != 1.0) {
						precise float a = acc[r] * ms;
						acc[r] = roundF16Fast(a);
					}
					acc[r] = flashFMA(kvAt(false, row, kvh * hd + d), vs, vh, vl, acc[r]);
				}
			}
		}
		barrier();
	}
	if (tid == 0u) {
		float f = 1.0;
		if (p.hasSinks != 0u) {
			float sink = SINK[p.sinkOff + h];
			if (sink > m) {
				precise float x = m - sink;
				f = exp32(x);
				precise float s = sum * f + 1.0;
				sum = s;
			} else {
				precise float x = sink - m;
				precise float s = sum + exp32(x);
				sum = s;
			}
		}
		red[0] = sum != 0.0 ? divRN(1.0, sum) : 0.0;
		red[1] = f;
	}
	barrier();
	float inv = red[0], f = red[1];
	for (uint r = 0u; r < MAXD; r++) {
		uint d = tid + r * WG;
		if (d < hd) {
			precise float a = acc[r];
			if (f != 1.0) {
				a = a * f;
			}
			precise float o = a * inv;
			D[d0 + d] = o;
		}
	}
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
	if (KVTYPE == 1u) {
		attendFlashF16(tid, h, kvh, base, cnt, d0);
		return;
	}

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
	float sink = 0.0;
	if (p.hasSinks != 0u) {
		sink = SINK[p.sinkOff + h];
		mx = max(mx, sink);
	}
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
		if (p.hasSinks != 0u) {
			sum += exp(sink - mx);
		}
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
			ws[tid] = w;
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
