#version 450
#extension GL_GOOGLE_include_directive : require
// attention: causal attention over a KV cache of type KVTYPE (gguf numbering:
// F32, F16, Q8_0 or Q4_0). One workgroup per (head h, query row i) of
// sequence s at position p: scores over cache rows s*context + first..p, in
// that order, where first is 0, or p-window+1 with a sliding window; scores
// scaled, then soft-capped (cap*tanh(s/cap)) when cap > 0.
//
// The cache is read through up to 5 bindings a tensor (K0..K4, V0..V4), each
// a window of rowsPerWin whole rows at the same byte offset kOff/vOff from
// its start, so that a cache larger than one binding (maxStorageBufferRange)
// can be read: row r is row r % rowsPerWin of window r / rowsPerWin.
//
// FLASH 1, F16 cache: llama.cpp's flash attention, with the bits of the CPU
// backend (kernels.AttnFlashF16): q rounded to F16, scores in
// ggml_vec_dot_f16's order, an online softmax with kernels.Exp32, and an F16
// accumulator rounded after every key. Keys go WG at a time: each thread
// scores one, the running maximum and sum are carried by thread 0 in key
// order, and each thread updates its own output dims key by key.
//
// FLASH 1, Q8_0 or Q4_0 cache (heads of whole blocks, no sinks): the same
// online softmax with kernels.AttnFlashQuantGroup's scores and accumulator:
// q quantized to Q8_0 as activations are (127/max|x|, half to even), each
// score the block dot of kernels' Format.Dot (exact integer sums, one fused
// multiply-add a block), and an F32 accumulator: acc·ms on a new maximum,
// then fma(v, vs, acc).
//
// FLASH 0 (F32 cache, and quantized ones otherwise): softmax with the
// maximum subtracted, in F32; weighted sum of V rows in row order. Scores are
// recomputed in each of three passes (max, sum, weighted sum) rather than
// stored, so no scratch memory is needed whatever the context length.
//
// With sinks, head h's sink joins the maximum and the sum, not the weights:
// as the CPU's softmax (F32) and kernels.AttnFlashF16Sink (F16).
#include "common.glsl"

#define EXP_TABLE_HI(j) expHi[j]
#define EXP_TABLE_LO(j) expLo[j]

layout(constant_id = 0) const uint KVTYPE = 0;
layout(constant_id = 1) const uint FLASH = 0;
#define WG 64u
#define MAXD 8u // head dims up to WG*MAXD = 512
layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer Qb { float Q[]; };
layout(std430, binding = 1) readonly buffer Pb { int POS[]; };
layout(std430, binding = 2) readonly buffer Sb { int SEQ[]; };
layout(std430, binding = 3) writeonly buffer Db { float D[]; };
layout(std430, binding = 4) readonly buffer Sinkb { float SINK[]; }; // per query head, when hasSinks
layout(std430, binding = 5) readonly buffer Kw0 { uint K0[]; };
layout(std430, binding = 6) readonly buffer Kw1 { uint K1[]; };
layout(std430, binding = 7) readonly buffer Kw2 { uint K2[]; };
layout(std430, binding = 8) readonly buffer Kw3 { uint K3[]; };
layout(std430, binding = 9) readonly buffer Kw4 { uint K4[]; };
layout(std430, binding = 10) readonly buffer Vw0 { uint V0[]; };
layout(std430, binding = 11) readonly buffer Vw1 { uint V1[]; };
layout(std430, binding = 12) readonly buffer Vw2 { uint V2[]; };
layout(std430, binding = 13) readonly buffer Vw3 { uint V3[]; };
layout(std430, binding = 14) readonly buffer Vw4 { uint V4[]; };

layout(push_constant) uniform P {
	uint qOff; // words
	uint kOff, vOff; // bytes from each window's binding start to its first row
	uint posOff, seqOff, dOff; // words
	uint heads, kvHeads, headDim, context, cacheRows;
	float scale;
	float softCap; // > 0: cap scores at softCap*tanh(s/softCap)
	uint window;   // > 0: see only the last window positions
	uint sinkOff, hasSinks; // gpt-oss's sinks: one more logit per head in the softmax's denominator
	uint rowsPerWin; // cache rows per binding window
} p;

shared float qs[WG * MAXD];
shared float ws[WG];
shared float red[WG];
shared float expHi[64], expLo[64];
shared float mpS[WG], msS[WG], vsS[WG];

#include "attention_math.glsl"

shared int qi[WG * MAXD]; // the query quantized to Q8_0 (quantized caches)
shared float qd[WG * MAXD / 32u]; // and its blocks' scales

uint kWord(uint win, uint i) {
	switch (win) {
	case 0u: return K0[i];
	case 1u: return K1[i];
	case 2u: return K2[i];
	case 3u: return K3[i];
	default: return K4[i];
	}
}

uint vWord(uint win, uint i) {
	switch (win) {
	case 0u: return V0[i];
	case 1u: return V1[i];
	case 2u: return V2[i];
	case 3u: return V3[i];
	default: return V4[i];
	}
}

// rowBytes is a cache row's size: kvHeads*headDim values of KVTYPE.
uint rowBytes() {
	uint cols = p.kvHeads * p.headDim;
	if (KVTYPE == T_F32) {
		return 4u * cols;
	} else if (KVTYPE == T_F16) {
		return 2u * cols;
	} else if (KVTYPE == T_Q8_0) {
		return cols / 32u * 34u;
	}
	return cols / 32u * 18u; // Q4_0
}

// rowAt locates cache row `row`: its window and its first byte there.
void rowAt(bool isK, uint row, out uint win, out uint at) {
	win = 0u;
	if (p.rowsPerWin < p.cacheRows) {
		win = row / p.rowsPerWin;
		row -= win * p.rowsPerWin;
	}
	at = (isK ? p.kOff : p.vOff) + row * rowBytes();
}

// byteAt reads byte at of a window (any alignment); halfAt a 2-aligned half.
uint byteAt(bool isK, uint win, uint at) {
	uint w = isK ? kWord(win, at >> 2) : vWord(win, at >> 2);
	return (w >> (8u * (at & 3u))) & 0xffu;
}

uint halfAt(bool isK, uint win, uint at) {
	uint w = isK ? kWord(win, at >> 2) : vWord(win, at >> 2);
	return (at & 2u) == 0u ? (w & 0xffffu) : (w >> 16);
}

// kvAt is value d of cache row `row` as float32 (a quantized one as
// kernels' Dequantize gives it: q·d).
float kvAt(bool isK, uint row, uint d) {
	uint win, at;
	rowAt(isK, row, win, at);
	if (KVTYPE == T_F32) {
		at += 4u * d;
		return uintBitsToFloat(isK ? kWord(win, at >> 2) : vWord(win, at >> 2));
	} else if (KVTYPE == T_F16) {
		return f16tof32(halfAt(isK, win, at + 2u * d));
	}
	uint j = d & 31u;
	if (KVTYPE == T_Q8_0) {
		at += (d >> 5) * 34u;
		float scale = f16tof32(halfAt(isK, win, at));
		int q = int(byteAt(isK, win, at + 2u + j) << 24) >> 24;
		precise float v = float(q) * scale;
		return v;
	}
	at += (d >> 5) * 18u; // Q4_0
	float scale = f16tof32(halfAt(isK, win, at));
	uint b = byteAt(isK, win, at + 2u + (j & 15u));
	int q = int(j < 16u ? (b & 15u) : (b >> 4)) - 8;
	precise float v = float(q) * scale;
	return v;
}

// quantizeQuery converts qs (hd values) to Q8_0 in qi and qd as
// kernels.QuantizeActivations does: d = f16(max|x|/127), q = roundEven(x·127/max|x|).
void quantizeQuery(uint tid) {
	uint nb = p.headDim / 32u;
	for (uint blk = tid; blk < nb; blk += WG) {
		float amax = 0.0;
		for (uint j = 0u; j < 32u; j++) {
			float a = abs(qs[blk * 32u + j]);
			if (a > amax) {
				amax = a;
			}
		}
		float id = amax != 0.0 ? divRN(127.0, amax) : 0.0;
		qd[blk] = roundF16(divRN(amax, 127.0));
		for (uint j = 0u; j < 32u; j++) {
			precise float x = qs[blk * 32u + j] * id;
			qi[blk * 32u + j] = int(roundEven(x));
		}
	}
}

// scoreQ is the quantized cache's q·k, block after block: the exact integer
// sum of products, then acc = fma(d_k·d_q, sum, acc) (kernels.dotQ8_0 and
// dotQ4_0).
float scoreQ(uint row, uint kvh) {
	uint win, at;
	rowAt(true, row, win, at);
	uint nb = p.headDim / 32u;
	uint bsize = KVTYPE == T_Q8_0 ? 34u : 18u;
	at += kvh * nb * bsize;
	float acc = 0.0;
	for (uint blk = 0u; blk < nb; blk++) {
		uint b0 = at + blk * bsize;
		float dk = f16tof32(halfAt(true, win, b0));
		int isum = 0;
		if (KVTYPE == T_Q8_0) {
			for (uint j = 0u; j < 32u; j++) {
				int q = int(byteAt(true, win, b0 + 2u + j) << 24) >> 24;
				isum += q * qi[blk * 32u + j];
			}
		} else {
			for (uint j = 0u; j < 16u; j++) {
				uint b = byteAt(true, win, b0 + 2u + j);
				isum += (int(b & 15u) - 8) * qi[blk * 32u + j] + (int(b >> 4) - 8) * qi[blk * 32u + j + 16u];
			}
		}
		precise float sc = dk * qd[blk];
		acc = fmaSplit(sc, float(isum), acc);
	}
	return acc;
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

// attendFlash is the flash attention for workgroup (h, i): the online
// softmax of kernels.FlashWeights and the accumulator of
// kernels.AttnAccumulateF16 (F16 cache) or kernels.AttnFlashQuantGroup
// (quantized), over cnt cache rows from base.
void attendFlash(uint tid, uint h, uint kvh, uint base, uint cnt, uint d0) {
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
			float raw = KVTYPE == T_F16 ? scoreF16(base + t0 + tid, kvh) : scoreQ(base + t0 + tid, kvh);
			precise float s = raw * scale;
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
				if (d < hd && KVTYPE == T_F16) {
					if (ms != 1.0) {
						precise float a = acc[r] * ms;
						acc[r] = roundF16Fast(a);
					}
					acc[r] = flashFMA(kvAt(false, row, kvh * hd + d), vs, vh, vl, acc[r]);
				} else if (d < hd) {
					if (ms != 1.0) {
						precise float a = acc[r] * ms;
						acc[r] = a;
					}
					acc[r] = fmaSplit(kvAt(false, row, kvh * hd + d), vs, acc[r]);
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
		qs[d] = KVTYPE == T_F16 ? roundF16(qv) : qv;
	}
	barrier();
	if (FLASH == 1u && KVTYPE != T_F16) {
		quantizeQuery(tid);
		barrier();
	}
	uint first = 0u; // the first position this query sees
	if (p.window > 0u && n > p.window) {
		first = n - p.window;
	}
	uint cnt = n - first;
	base += first; // scores are over cache rows base + 0..cnt-1
	if (FLASH == 1u) {
		attendFlash(tid, h, kvh, base, cnt, d0);
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
