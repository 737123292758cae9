// attention.glsl: causal attention over a KV cache of type KVTYPE (gguf
// numbering: F32, F16, Q8_0 or Q4_0), the body of attention.comp and
// attention_sg.comp (SUBGROUP 1: subgroup max and sum). Query row i of
// sequence s at position p sees cache rows s*context + first..p, where first
// is 0, or p-window+1 with a sliding window. Those cnt positions are cut into
// splits of SPLIT positions, counted from first, and one workgroup computes
// one split for GH query heads of one KV head's group: each K and V value is
// loaded once for all of them, into an online softmax's (maximum m, sum l of
// e^(score-m), unnormalized output o) per head.
//
// A row of one split writes its output straight away. A row of several
// writes each split's (m, l, o) to the partials, and the workgroup that
// finishes the row's group last (a counter per row and group in CNT says
// which) folds them in split order, then head h's sink (gpt-oss) when there
// are sinks, and writes o·(1/l):
//   M' = max(M, m_s), L' = L·e^(M-M') + l_s·e^(m_s-M'), O' likewise.
//
// A workgroup may take QR query rows at once (attendRows: a slot per row and
// head, QR·GH of them) when they are rows of one sequence that see the same
// first position, as a prompt's do: K and V are loaded once for every slot,
// and each slot's scores, tiles and reductions are its own, the arithmetic
// of its row alone.
//
// Every output's arithmetic depends only on its own row's position and
// sequence (the split boundaries, the tiles within a split, the reduction
// trees, the row's own number of splits), never on the batch's other rows or
// size: batch invariance. Which workgroup folds does not matter: every one
// folds the same partials in the same order.
//
// Within a split keys go in tiles of 64: each thread scores one, the tile's
// maximum and sum come from reductions, and each thread accumulates its own
// output dims over the tile's keys in order. An F16 cache instead follows
// the CPU's F16 flash attention key by key (tileF16).
//
// Scores: q·k in dimension order with fma, scaled, soft-capped
// (cap*tanh(s/cap)) when cap > 0. With an F16 cache q is rounded to F16, as
// the CPU does. With QUANTQ (a quantized cache, heads of whole blocks, no
// sinks: the CPU's quant flash) q is quantized to Q8_0 and each block's
// integer dot (exact in float) joins the score as fma(d_k·d_q, dot, score).
//
// The cache is read through up to 5 bindings a tensor (K0..K4, V0..V4), each
// a window of rowsPerWin whole rows at the same byte offset kOff/vOff from
// its start: row r is row r % rowsPerWin of window r / rowsPerWin.
#include "common.glsl"

layout(constant_id = 0) const uint KVTYPE = 0;
layout(constant_id = 1) const uint QUANTQ = 0;
layout(constant_id = 2) const uint HD = 64; // head dim
layout(constant_id = 3) const uint GH = 1;  // query heads per workgroup, at most GMAX
layout(constant_id = 4) const uint NWIN = 5; // windows a K or V cache takes (1: no window arithmetic)
layout(constant_id = 5) const uint QR = 1;   // query rows per workgroup, QR·GH at most GMAX
#define WG 64u
#define GMAX 8u
#define SPLIT 256u // positions per split: fixed, whatever the batch
const uint DPT = (HD + WG - 1u) / WG; // output dims per thread
const uint QBLK = (HD + 31u) / 32u;
layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer Qb { float Q[]; };
layout(std430, binding = 1) readonly buffer Pb { int POS[]; };
layout(std430, binding = 2) readonly buffer Sb { int SEQ[]; };
// The partials, written by one workgroup and read by the row's last.
layout(std430, binding = 3) coherent buffer Partb { float PART[]; };
layout(std430, binding = 4) readonly buffer Kw0 { uint K0[]; };
layout(std430, binding = 5) readonly buffer Kw1 { uint K1[]; };
layout(std430, binding = 6) readonly buffer Kw2 { uint K2[]; };
layout(std430, binding = 7) readonly buffer Kw3 { uint K3[]; };
layout(std430, binding = 8) readonly buffer Kw4 { uint K4[]; };
layout(std430, binding = 9) readonly buffer Vw0 { uint V0[]; };
layout(std430, binding = 10) readonly buffer Vw1 { uint V1[]; };
layout(std430, binding = 11) readonly buffer Vw2 { uint V2[]; };
layout(std430, binding = 12) readonly buffer Vw3 { uint V3[]; };
layout(std430, binding = 13) readonly buffer Vw4 { uint V4[]; };
layout(std430, binding = 14) writeonly buffer Db { float D[]; };
layout(std430, binding = 15) readonly buffer Sinkb { float SINK[]; }; // per query head, when hasSinks
// A counter per row and group, zero between dispatches (fuse.go's newCounters).
layout(std430, binding = 16) coherent buffer Cb { uint CNT[]; };

layout(push_constant) uniform P {
	uint qOff; // words
	uint kOff, vOff; // bytes from each window's binding start to its first row
	uint posOff, seqOff, partOff; // words
	uint heads, kvHeads, context, cacheRows;
	float scale;
	float softCap; // > 0: cap scores at softCap*tanh(s/softCap)
	uint window;   // > 0: see only the last window positions
	uint rowsPerWin; // cache rows per binding window
	uint nSplits;    // splits per row in the partials (the most any row has)
	uint dOff, sinkOff, hasSinks, cntOff; // words, but hasSinks
	uint rows; // query rows in this dispatch
} p;

shared float qs[GMAX * HD];     // the queries (or their Q8_0 quants, as floats)
shared float qd[GMAX * QBLK];   // and their blocks' scales
shared float ws[GMAX * WG];     // a tile's weights, per head
shared float red[GMAX * WG];    // reductions
shared float msS[GMAX * WG], vsS[GMAX * WG]; // F16 cache: each key's factors

// Each thread's online softmax: per head the maximum and sum, and its dims
// of the unnormalized output.
float m[GMAX], l[GMAX], acc[GMAX * DPT];

shared bool lastSplit;

uint kWord(uint win, uint i) {
	if (NWIN == 1u) {
		return K0[i];
	}
	switch (win) {
	case 0u: return K0[i];
	case 1u: return K1[i];
	case 2u: return K2[i];
	case 3u: return K3[i];
	default: return K4[i];
	}
}

uint vWord(uint win, uint i) {
	if (NWIN == 1u) {
		return V0[i];
	}
	switch (win) {
	case 0u: return V0[i];
	case 1u: return V1[i];
	case 2u: return V2[i];
	case 3u: return V3[i];
	default: return V4[i];
	}
}

uint word(bool isK, uint win, uint i) { return isK ? kWord(win, i) : vWord(win, i); }

// rowBytes is a cache row's size: kvHeads*HD values of KVTYPE.
uint rowBytes() {
	uint cols = p.kvHeads * HD;
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
	if (NWIN > 1u && p.rowsPerWin < p.cacheRows) {
		win = row / p.rowsPerWin;
		row -= win * p.rowsPerWin;
	}
	at = (isK ? p.kOff : p.vOff) + row * rowBytes();
}

uint byteAt(bool isK, uint win, uint at) {
	return (word(isK, win, at >> 2) >> (8u * (at & 3u))) & 0xffu;
}

uint halfAt(bool isK, uint win, uint at) {
	uint w = word(isK, win, at >> 2);
	return (at & 2u) == 0u ? (w & 0xffffu) : (w >> 16);
}

// kvAt is column c of the row at byte `at` of window win, as float32 (a
// quantized one q·d, as kernels' Dequantize gives it).
float kvAt(bool isK, uint win, uint at, uint c) {
	if (KVTYPE == T_F32) {
		return uintBitsToFloat(word(isK, win, (at >> 2) + c));
	} else if (KVTYPE == T_F16) {
		return f16tof32(halfAt(isK, win, at + 2u * c));
	}
	uint j = c & 31u;
	if (KVTYPE == T_Q8_0) {
		at += (c >> 5) * 34u;
		float d = f16tof32(halfAt(isK, win, at));
		int q = int(byteAt(isK, win, at + 2u + j) << 24) >> 24;
		return float(q) * d;
	}
	at += (c >> 5) * 18u; // Q4_0
	float d = f16tof32(halfAt(isK, win, at));
	uint b = byteAt(isK, win, at + 2u + (j & 15u));
	int q = int(j < 16u ? (b & 15u) : (b >> 4)) - 8;
	return float(q) * d;
}

// kqAt is quant j of the block at byte at (QUANTQ caches).
float kqAt(uint win, uint at, uint j) {
	if (KVTYPE == T_Q8_0) {
		return float(int(byteAt(true, win, at + 2u + j) << 24) >> 24);
	}
	uint b = byteAt(true, win, at + 2u + (j & 15u));
	return float(int(j < 16u ? (b & 15u) : (b >> 4)) - 8);
}

// quantizeQueries turns qs into Q8_0 as kernels.QuantizeActivations does:
// d = f16(max|x|/127), q = roundEven(x·127/max|x|), kept as floats.
void quantizeQueries(uint tid, uint ns) {
	for (uint blk = tid; blk < ns * QBLK; blk += WG) {
		uint at = blk * 32u;
		float amax = 0.0;
		for (uint j = 0u; j < 32u; j++) {
			amax = max(amax, abs(qs[at + j]));
		}
		float id = amax != 0.0 ? 127.0 / amax : 0.0;
		qd[blk] = roundF16(amax / 127.0);
		for (uint j = 0u; j < 32u; j++) {
			qs[at + j] = roundEven(qs[at + j] * id);
		}
	}
}

// scores computes the ns slots' scores (rows and heads) against cache row
// `row`: the K row is read once for all of them.
void scores(uint row, uint kvh, uint ns, out float s[GMAX]) {
	uint win, at;
	rowAt(true, row, win, at);
	for (uint g = 0u; g < GMAX; g++) {
		s[g] = 0.0;
	}
	if (QUANTQ == 1u) {
		uint bsize = KVTYPE == T_Q8_0 ? 34u : 18u;
		at += kvh * QBLK * bsize;
		for (uint blk = 0u; blk < QBLK; blk++) {
			uint b0 = at + blk * bsize;
			float dk = f16tof32(halfAt(true, win, b0));
			float dot[GMAX];
			for (uint g = 0u; g < ns; g++) {
				dot[g] = 0.0;
			}
			for (uint j = 0u; j < 32u; j++) {
				float kq = kqAt(win, b0, j);
				for (uint g = 0u; g < ns; g++) {
					dot[g] += kq * qs[g * HD + blk * 32u + j]; // integers: exact in any order
				}
			}
			for (uint g = 0u; g < ns; g++) {
				precise float sc = dk * qd[g * QBLK + blk];
				s[g] = fma(sc, dot[g], s[g]);
			}
		}
	} else if (KVTYPE == T_F16 && HD < 64u) {
		// Heads under 64 dims: the CPU (ggml_vec_dot_f16's tail) sums the
		// products exactly in float-float; so do we (exact products by fma).
		float lo[GMAX];
		for (uint g = 0u; g < ns; g++) {
			lo[g] = 0.0;
		}
		for (uint d = 0u; d < HD; d++) {
			float k = kvAt(true, win, at, kvh * HD + d);
			for (uint g = 0u; g < ns; g++) {
				precise float pr = qs[g * HD + d] * k;
				precise float pe = fma(qs[g * HD + d], k, -pr);
				precise float sum = s[g] + pr;
				precise float bb = sum - s[g];
				precise float se = (s[g] - (sum - bb)) + (pr - bb);
				s[g] = sum;
				lo[g] = lo[g] + (se + pe);
			}
		}
		for (uint g = 0u; g < ns; g++) {
			precise float r = s[g] + lo[g];
			s[g] = r;
		}
	} else {
		for (uint d = 0u; d < HD; d++) {
			float k = kvAt(true, win, at, kvh * HD + d);
			for (uint g = 0u; g < ns; g++) {
				s[g] = fma(qs[g * HD + d], k, s[g]);
			}
		}
	}
	for (uint g = 0u; g < ns; g++) {
		precise float r = s[g] * p.scale;
		if (p.softCap > 0.0) {
			r = p.softCap * tanh(r / p.softCap);
		}
		s[g] = r;
	}
}

#ifndef SUBGROUP
#define SUBGROUP 0
#endif

// groupMax and groupSum reduce each head's value over the workgroup; every
// thread gets the results. The order is fixed by the workgroup's (and the
// device's subgroup) size alone.
void groupMax(inout float v[GMAX], uint tid, uint ns) {
#if SUBGROUP
	for (uint g = 0u; g < ns; g++) {
		float m = subgroupMax(v[g]);
		if (subgroupElect()) {
			red[g * WG + gl_SubgroupID] = m;
		}
	}
	barrier();
	for (uint g = 0u; g < ns; g++) {
		float m = red[g * WG];
		for (uint i = 1u; i < gl_NumSubgroups; i++) {
			m = max(m, red[g * WG + i]);
		}
		v[g] = m;
	}
#else
	for (uint g = 0u; g < ns; g++) {
		red[g * WG + tid] = v[g];
	}
	barrier();
	for (uint s = WG / 2u; s > 0u; s >>= 1) {
		if (tid < s) {
			for (uint g = 0u; g < ns; g++) {
				red[g * WG + tid] = max(red[g * WG + tid], red[g * WG + tid + s]);
			}
		}
		barrier();
	}
	for (uint g = 0u; g < ns; g++) {
		v[g] = red[g * WG];
	}
#endif
	barrier();
}

void groupSum(inout float v[GMAX], uint tid, uint ns) {
#if SUBGROUP
	for (uint g = 0u; g < ns; g++) {
		float m = subgroupAdd(v[g]);
		if (subgroupElect()) {
			red[g * WG + gl_SubgroupID] = m;
		}
	}
	barrier();
	for (uint g = 0u; g < ns; g++) {
		precise float m = red[g * WG];
		for (uint i = 1u; i < gl_NumSubgroups; i++) {
			m = m + red[g * WG + i];
		}
		v[g] = m;
	}
#else
	for (uint g = 0u; g < ns; g++) {
		red[g * WG + tid] = v[g];
	}
	barrier();
	for (uint s = WG / 2u; s > 0u; s >>= 1) {
		if (tid < s) {
			for (uint g = 0u; g < ns; g++) {
				precise float a = red[g * WG + tid] + red[g * WG + tid + s];
				red[g * WG + tid] = a;
			}
		}
		barrier();
	}
	for (uint g = 0u; g < ns; g++) {
		v[g] = red[g * WG];
	}
#endif
	barrier();
}

// roundF16Fast is roundF16 without a branch (a CPU device runs both sides
// of one): in the F16 normal range the float32 rounds to 11 significant bits,
// nearest even, by integer arithmetic on its bits; below it, to a multiple of
// 2^-24 (F16's subnormal step) by adding and taking away 0.75, whose binade
// has that step; above 65504 it is infinite; NaN stays NaN.
float roundF16Fast(float f) {
	float a = abs(f);
	uint u = floatBitsToUint(f);
	uint sgn = u & 0x80000000u;
	float nrm = uintBitsToFloat((u + 0xfffu + ((u >> 13) & 1u)) & ~0x1fffu);
	precise float t = a + 0.75;
	precise float sub = t - 0.75;
	float r = mix(nrm, uintBitsToFloat(floatBitsToUint(sub) | sgn), a < 6.103515625e-05); // 2^-14
	r = mix(r, uintBitsToFloat(0x7f800000u | sgn), abs(r) > 65504.0);
	return mix(r, f, isnan(f));
}

// tileF16 is a tile of keys over an F16 cache, with the online softmax of
// the CPU's F16 flash attention (llama.cpp's): key by key, a new maximum
// scales the accumulator and the sum by e^(old-new), any other key joins
// with weight e^(s-max), and the accumulator is rounded to F16 after every
// step. So a split of a sequence follows the CPU's arithmetic, with the
// device's exp; the F16 roundings are the CPU's but where an exp differs.
// Thread t finds key t's running maximum and factors; then every thread
// walks the keys in order for its own dims.
void tileF16(uint tid, uint nkS[GMAX], uint nk, uint ns, uint kvh, uint row0, float s[GMAX]) {
	for (uint g = 0u; g < ns; g++) {
		ws[g * WG + tid] = s[g];
	}
	barrier();
	for (uint g = 0u; g < ns; g++) {
		if (tid < nkS[g]) {
			float mp = m[g];
			for (uint j = 0u; j < tid; j++) {
				mp = max(mp, ws[g * WG + j]);
			}
			float sc = ws[g * WG + tid];
			float ms = 1.0, vs = 1.0;
			if (sc > mp) {
				ms = mp == uintBitsToFloat(0xff800000u) ? 0.0 : exp(mp - sc);
			} else {
				vs = exp(sc - mp);
			}
			msS[g * WG + tid] = ms;
			vsS[g * WG + tid] = vs;
		}
	}
	barrier();
	for (uint j = 0u; j < nk; j++) {
		uint win, at;
		rowAt(false, row0 + j, win, at);
		float v[DPT];
		for (uint r = 0u; r < DPT; r++) {
			uint d = tid + r * WG;
			v[r] = d < HD ? kvAt(false, win, at, kvh * HD + d) : 0.0;
		}
		for (uint g = 0u; g < ns; g++) {
			if (j >= nkS[g]) {
				continue;
			}
			float ms = msS[g * WG + j], vs = vsS[g * WG + j];
			precise float sum = l[g] * ms + vs;
			l[g] = sum;
			m[g] = max(m[g], ws[g * WG + j]);
			for (uint r = 0u; r < DPT; r++) {
				// acc holds halves, so a factor of 1 leaves it as it is
				acc[g * DPT + r] = roundF16Fast(fma(v[r], vs, roundF16Fast(acc[g * DPT + r] * ms)));
			}
		}
	}
	barrier(); // ws, msS and vsS are rewritten by the next tile
}

// foldSink folds head h's sink (gpt-oss), when there are sinks, into a row's
// maximum M and sum L, and returns the factor of its outputs.
float foldSink(uint h, float M, inout float L) {
	if (p.hasSinks == 0u) {
		return 1.0;
	}
	float sink = SINK[p.sinkOff + h];
	float mn = max(M, sink);
	float sinkScale = exp(M - mn);
	L = fma(L, sinkScale, exp(sink - mn));
	return sinkScale;
}

// store writes dim d of head h's output in row i.
void store(uint i, uint h, uint d, float o, float sinkScale, float inv) {
	precise float a = o * sinkScale;
	precise float r = a * inv;
	D[p.dOff + (i * p.heads + h) * HD + d] = r;
}

// finishesRow counts this workgroup's split done in the row's counter and
// reports whether it was the last of the row's splits, which then sees all
// of their partials; it zeroes the counter for the next dispatch.
bool finishesRow(uint slot, uint splits, uint tid) {
	memoryBarrierBuffer();
	barrier();
	if (tid == 0u) {
		lastSplit = atomicAdd(CNT[slot], 1u) == splits - 1u;
	}
	barrier();
	if (!lastSplit) {
		return false;
	}
	memoryBarrierBuffer();
	if (tid == 0u) {
		CNT[slot] = 0u; // for the next dispatch, after a barrier
	}
	return true;
}

// combine folds the partials of row i's splits, for the GH heads from h0, in
// split order and writes the outputs.
void combine(uint i, uint h0, uint splits, uint tid) {
	for (uint g = 0u; g < GH; g++) {
		uint h = h0 + g;
		uint rec = p.partOff + (i * p.heads + h) * p.nSplits * (HD + 2u);
		float M = PART[rec], L = PART[rec + 1u];
		for (uint s = 1u; s < splits; s++) {
			uint r = rec + s * (HD + 2u);
			float ms = PART[r];
			float mn = max(M, ms);
			float a = exp(M - mn), b = exp(ms - mn);
			L = fma(PART[r + 1u], b, L * a);
			M = mn;
		}
		float sinkScale = foldSink(h, M, L);
		float inv = 1.0 / L; // then o·inv, as the CPU
		for (uint d = tid; d < HD; d += WG) {
			float Mo = PART[rec], o = PART[rec + 2u + d];
			for (uint s = 1u; s < splits; s++) {
				uint r = rec + s * (HD + 2u);
				float ms = PART[r];
				float mn = max(Mo, ms);
				o = fma(PART[r + 2u + d], exp(ms - mn), o * exp(Mo - mn));
				Mo = mn;
			}
			store(i, h, d, o, sinkScale, inv);
		}
	}
}

// rowSees reads row i's position and sequence: whether it is in range, and
// the cache rows it sees, from base (its sequence's first visible row) for
// cnt positions.
bool rowSees(uint i, out uint base, out uint cnt) {
	int pos = POS[p.posOff + i];
	int seq = SEQ[p.seqOff + i];
	uint n = uint(pos) + 1u;
	base = uint(seq) * p.context;
	cnt = 0u;
	if (pos < 0 || seq < 0 || n > p.context || base + n > p.cacheRows) {
		return false;
	}
	uint first = 0u; // the first position this query sees
	if (p.window > 0u && n > p.window) {
		first = n - p.window;
	}
	cnt = n - first;
	base += first;
	return true;
}

// attendRows computes split `split` of rows ra..ra+rn-1 for the GH heads from
// h0 (a slot each row and head: rn·GH of them), the rows seeing the same cache
// rows from base, each for its own cnt positions, so that every K and V load
// serves all the slots. A slot's arithmetic is the same whatever the other
// slots are: scores, tiles and reductions are its own.
void attendRows(uint ra, uint rn, uint base, uint cnt[GMAX], uint split, uint h0, uint kvh, uint tid) {
	uint ns = rn * GH;
	uint lo = split * SPLIT;
	uint hiR[GMAX], hiMax = 0u;
	for (uint r = 0u; r < rn; r++) {
		hiR[r] = lo < cnt[r] ? min(cnt[r], lo + SPLIT) : 0u; // 0: the row has fewer splits
		hiMax = max(hiMax, hiR[r]);
	}
	if (hiMax == 0u) {
		return;
	}
	uint width = p.heads * HD;
	for (uint j = tid; j < ns * HD; j += WG) {
		uint g = j / HD;
		float qv = Q[p.qOff + (ra + g / GH) * width + (h0 + g % GH) * HD + j % HD];
		qs[j] = KVTYPE == T_F16 ? roundF16(qv) : qv;
	}
	barrier();
	if (QUANTQ == 1u) {
		quantizeQueries(tid, ns);
		barrier();
	}

	const float NEG_INF = uintBitsToFloat(0xff800000u);
	for (uint g = 0u; g < GMAX; g++) {
		m[g] = NEG_INF;
		l[g] = 0.0;
	}
	for (uint r = 0u; r < GMAX * DPT; r++) {
		acc[r] = 0.0;
	}
	for (uint t0 = lo; t0 < hiMax; t0 += WG) {
		uint nk = min(WG, hiMax - t0);
		uint nkS[GMAX]; // each slot's keys in this tile
		for (uint g = 0u; g < ns; g++) {
			uint hi = hiR[g / GH];
			nkS[g] = hi > t0 ? min(WG, hi - t0) : 0u;
		}
		float s[GMAX], tm[GMAX], ts[GMAX], alpha[GMAX];
		if (tid < nk) {
			scores(base + t0 + tid, kvh, ns, s);
		}
		for (uint g = 0u; g < GMAX; g++) {
			if (g >= ns || tid >= nkS[g]) {
				s[g] = NEG_INF;
			}
		}
		if (KVTYPE == T_F16) {
			tileF16(tid, nkS, nk, ns, kvh, base + t0, s);
			continue;
		}
		tm = s;
		groupMax(tm, tid, ns);
		for (uint g = 0u; g < ns; g++) {
			if (nkS[g] == 0u) {
				continue;
			}
			float mNew = max(m[g], tm[g]);
			alpha[g] = m[g] == NEG_INF ? 0.0 : exp(m[g] - mNew);
			m[g] = mNew;
			float w = tid < nkS[g] ? exp(s[g] - mNew) : 0.0;
			ws[g * WG + tid] = w;
			ts[g] = w;
		}
		groupSum(ts, tid, ns); // its barriers also publish ws
		for (uint g = 0u; g < ns; g++) {
			if (nkS[g] == 0u) {
				continue;
			}
			l[g] = fma(l[g], alpha[g], ts[g]);
			for (uint r = 0u; r < DPT; r++) {
				acc[g * DPT + r] *= alpha[g];
			}
		}
		for (uint j = 0u; j < nk; j++) {
			uint win, at;
			rowAt(false, base + t0 + j, win, at);
			for (uint r = 0u; r < DPT; r++) {
				uint d = tid + r * WG;
				if (d < HD) {
					float v = kvAt(false, win, at, kvh * HD + d);
					for (uint g = 0u; g < ns; g++) {
						if (j < nkS[g]) {
							acc[g * DPT + r] = fma(ws[g * WG + j], v, acc[g * DPT + r]);
						}
					}
				}
			}
		}
		barrier(); // ws is rewritten by the next tile
	}
	bool partials = false;
	for (uint g = 0u; g < ns; g++) {
		uint r = g / GH, i = ra + r, h = h0 + g % GH;
		if (hiR[r] == 0u) {
			continue;
		}
		if (cnt[r] <= SPLIT) { // the row's only split: its output at once
			float L = l[g];
			float sinkScale = foldSink(h, m[g], L);
			float inv = 1.0 / L; // then o·inv, as the CPU
			for (uint e = 0u; e < DPT; e++) {
				uint d = tid + e * WG;
				if (d < HD) {
					store(i, h, d, acc[g * DPT + e], sinkScale, inv);
				}
			}
			continue;
		}
		partials = true;
		uint rec = p.partOff + ((i * p.heads + h) * p.nSplits + split) * (HD + 2u);
		if (tid == 0u) {
			PART[rec] = m[g];
			PART[rec + 1u] = l[g];
		}
		for (uint e = 0u; e < DPT; e++) {
			uint d = tid + e * WG;
			if (d < HD) {
				PART[rec + 2u + d] = acc[g * DPT + e];
			}
		}
	}
	if (!partials) {
		return;
	}
	for (uint r = 0u; r < rn; r++) {
		uint i = ra + r;
		if (hiR[r] == 0u || cnt[r] <= SPLIT) {
			continue;
		}
		uint splits = (cnt[r] + SPLIT - 1u) / SPLIT; // the row's own
		if (finishesRow(p.cntOff + i * (p.heads / GH) + h0 / GH, splits, tid)) {
			combine(i, h0, splits, tid);
		}
	}
}

// Workgroup y computes query row y, unless rows y-y%QR.. (QR of them) are in
// range and see the same cache rows from the same first one (a prompt's
// rows, without a sliding window that has begun to slide): then the first of
// them computes all QR at once, and the others have nothing to do. Rows that
// cannot go together keep a workgroup each.
void main() {
	uint tid = gl_LocalInvocationID.x;
	uint split = gl_WorkGroupID.x % p.nSplits;
	uint h0 = (gl_WorkGroupID.x / p.nSplits) * GH; // the first of this workgroup's heads
	uint kvh = h0 / (p.heads / p.kvHeads);
	uint i = gl_WorkGroupID.y;
	uint i0 = i - i % QR;
	uint cnt[GMAX], base;
	if (QR > 1u && i0 + QR <= p.rows) {
		uint base0 = 0u;
		bool together = true;
		for (uint r = 0u; r < QR; r++) {
			together = together && rowSees(i0 + r, base, cnt[r]);
			together = together && (r == 0u || base == base0);
			base0 = r == 0u ? base : base0;
		}
		if (together) {
			if (i == i0) {
				attendRows(i0, QR, base0, cnt, split, h0, kvh, tid);
			}
			return;
		}
	}
	if (!rowSees(i, base, cnt[0])) {
		if (split == 0u) {
			for (uint j = tid; j < GH * HD; j += WG) {
				D[p.dOff + (i * p.heads + h0) * HD + j] = uintBitsToFloat(0x7fc00000u); // NaN: out of range
			}
		}
		return;
	}
	attendRows(i, 1u, base, cnt, split, h0, kvh, tid);
}
