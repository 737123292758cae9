#version 450
#extension GL_GOOGLE_include_directive : require
// topk: for each row of X, the K values that come first in the sampler's
// order (the larger first, the lower index on ties, NaN after every number)
// and their indices, in no particular order: D gets, per row, K indices and
// then the K values' bits. One workgroup per row, a radix select on keys
// that order as the values do: four passes of a 256-bin histogram over the
// row, a byte of the key at a time, find the K-th key T and how many of the
// keys equal to T are among the K; a last pass writes the keys above T and,
// of those equal to T, the ones at the lowest indices (each thread takes a
// contiguous run of the row, so runs in thread order are index order).
#include "common.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Xb { float X[]; };
layout(std430, binding = 1) writeonly buffer Db { uint D[]; };

layout(push_constant) uniform P {
	uint xOff, dOff;
	uint cols, rows;
	uint k; // 1 <= k <= cols
} p;

shared uint hist[256];
shared uint found[2]; // the bucket of the K-th key, and how many of it are wanted
shared uint above;    // slots taken by keys above T
shared uint ties[256]; // each thread's ties with T, then their exclusive prefix sums

// keyOf orders as the sampler does: NaN lowest (0), then the numbers
// ascending, with -0 equal to +0.
uint keyOf(float v) {
	if (isnan(v)) {
		return 0u;
	}
	uint u = floatBitsToUint(v == 0.0 ? 0.0 : v);
	return (u & 0x80000000u) != 0u ? ~u : (u | 0x80000000u);
}

void main() {
	uint row = flatGroup();
	uint tid = gl_LocalInvocationID.x;
	if (row >= p.rows) {
		return;
	}
	uint x0 = p.xOff + row * p.cols;
	uint prefix = 0u, mask = 0u, need = p.k;
	for (int shift = 24; shift >= 0; shift -= 8) {
		hist[tid] = 0u;
		barrier();
		for (uint c = tid; c < p.cols; c += 256u) {
			uint key = keyOf(X[x0 + c]);
			if ((key & mask) == prefix) {
				atomicAdd(hist[(key >> uint(shift)) & 255u], 1u);
			}
		}
		barrier();
		if (tid == 0u) {
			uint acc = 0u;
			for (int b = 255; b >= 0; b--) {
				uint h = hist[b];
				if (acc + h >= need) {
					found[0] = uint(b);
					found[1] = need - acc;
					break;
				}
				acc += h;
			}
			above = 0u;
		}
		barrier();
		prefix |= found[0] << uint(shift);
		mask |= 255u << uint(shift);
		need = found[1];
		barrier(); // found is rewritten by the next pass
	}
	// prefix is T; the K are the keys above it and need of those equal to it.
	uint run = (p.cols + 255u) / 256u;
	uint lo = min(p.cols, tid * run), hi = min(p.cols, lo + run);
	uint mine = 0u;
	for (uint c = lo; c < hi; c++) {
		mine += keyOf(X[x0 + c]) == prefix ? 1u : 0u;
	}
	ties[tid] = mine;
	barrier();
	if (tid == 0u) {
		uint acc = 0u;
		for (uint t = 0u; t < 256u; t++) {
			uint n = ties[t];
			ties[t] = acc;
			acc += n;
		}
	}
	barrier();
	uint tie = ties[tid]; // ties at lower indices than this run's
	uint firstTie = p.k - need; // the slots of the ties follow those above T
	uint dst = p.dOff + row * 2u * p.k;
	for (uint c = lo; c < hi; c++) {
		float v = X[x0 + c];
		uint key = keyOf(v);
		uint slot = 0xffffffffu;
		if (key > prefix) {
			slot = atomicAdd(above, 1u);
		} else if (key == prefix) {
			if (tie < need) {
				slot = firstTie + tie;
			}
			tie++;
		}
		if (slot != 0xffffffffu) {
			D[dst + slot] = c;
			D[dst + p.k + slot] = floatBitsToUint(v);
		}
	}
}
