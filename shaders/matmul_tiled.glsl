// matmul_tiled.glsl, included by matmul_tiled*.comp: the prefill matmul for
// quantized weights, D[c][r] = dot(W row r, X row c), with the quantized
// activations of a tile of NCOLS rows of X staged in shared memory and shared
// by every subgroup of the workgroup, each of which computes ROWS weight rows.
//
// Every output's value is bit-identical to matmul.glsl's (the mat-vec), which
// sums unit u (a 32-value block, or a K-quant's 32-value sub-block) into the
// partial of leaf t = u % 64 in order of u, then combines the 64 leaves by a
// fixed tree. Here leaf t = g*LANES + l is computed by lane l of every
// subgroup while the workgroup walks the leaf groups g, so the combination
// is the mat-vec's:
//   SUBGROUP 1 (LANES = the subgroup size, the mat-vec's subgroups): group g's
//     leaves are summed by subgroupAdd with leaf g*LANES+l in lane l, as in
//     the mat-vec's subgroup g, then the groups' sums in order of g;
//   SUBGROUP 0 (LANES = 8): the shared-memory tree pairs leaf t with t+32,
//     then t+16, ... t+1; its first levels (t+32 ... t+LANES) join leaves of
//     one lane, summed as the lane visits g in bit-reversed order with a
//     stack of pending pairs, and its last levels (t+LANES/2 ... t+1) join
//     lanes, summed in shared memory by the same tree.
// The per-unit arithmetic (integer sums, then scales in float) is the
// mat-vec's operation for operation, and the integer sums are exact.
#include "common.glsl"

layout(constant_id = 0) const uint TYPE = 0;
layout(constant_id = 1) const uint ROWS = 2;  // weight rows per subgroup
layout(constant_id = 2) const uint NCOLS = 8; // rows of X per workgroup
// ADD 1: the residual add in the epilogue (fuse.go's addIntoMatMul).
layout(constant_id = 3) const uint ADD = 0;
layout(constant_id = 4) const uint PACKED = 0;
// LANES: the device's subgroup size with SUBGROUP, else 8; it divides 64.
layout(constant_id = 5) const uint LANES = 8;
// WG: the workgroup's invocations, a multiple of LANES: WG/LANES subgroups.
layout(constant_id = 6) const uint WG = 64;
// The mat-vec's leaves: its workgroup's invocations.
#define LEAVES 64u
layout(local_size_x_id = 6) in;

layout(std430, binding = 0) readonly buffer Wb { uint W[]; };
layout(std430, binding = 0) readonly buffer W4b { uvec4 W4[]; };
layout(std430, binding = 2) readonly buffer Qb { uint XQ[]; };
layout(std430, binding = 2) readonly buffer Q4b { uvec4 XQ4[]; };
layout(std430, binding = 3) writeonly buffer Db { float D[]; };
layout(std430, binding = 4) coherent buffer Rb { float R[]; };

// The push constants are matmul.glsl's (the same pipeline layout).
layout(push_constant) uniform P {
	uint wBase;
	uint rowBytes;
	uint m;
	uint k;
	uint n;
	uint xOff;
	uint qsOff, dOff, sOff;
	uint dstOff;
	uint dstStride;
	uint rOff;
	uint nwOff, ndOff;
	float eps;
	uint nqsOff, nqdOff, nqsumOff;
	uint slot;
} p;

#include "decode.glsl"

#include "int_dot.glsl"

// The staged activations of one step: unit g*LANES+l+64j of X row c0+c at
// index c*LANES+l: its 32 quants, its scale, and its sum (Q8_1) or the sums
// of its two 16-value groups (Q8_K).
shared uvec4 xsQ[NCOLS * LANES * 2];
shared float xsD[NCOLS * LANES];
shared ivec2 xsS[NCOLS * LANES];
#if !SUBGROUP
shared float red[ROWS * NCOLS * WG];
#endif

// store writes output i (row-major index within the dispatch's outputs).
void store(uint i, float v) {
	D[p.dstOff + i] = v;
	if (ADD != 0u) {
		precise float s = R[p.rOff + i] + v;
		R[p.rOff + i] = s;
	}
}

// bitReverse reverses the low `bits` bits of i.
uint bitReverse(uint i, uint bits) { return bits == 0u ? 0u : bitfieldReverse(i) >> (32u - bits); }

void main() {
	uint tid = gl_LocalInvocationID.x;
#if SUBGROUP
	uint lane = gl_SubgroupInvocationID, sub = gl_SubgroupID;
#else
	uint lane = tid % LANES, sub = tid / LANES;
#endif
	const uint SUBS = WG / LANES;
	uint r0 = (gl_WorkGroupID.x * SUBS + sub) * ROWS;
	uint c0 = gl_WorkGroupID.y * NCOLS;
	uint nr = r0 < p.m ? min(ROWS, p.m - r0) : 0u;
	uint nc = min(NCOLS, p.n - c0);
	bool kq = isK();
	uint units = p.k / 32u, nb = kq ? p.k / 256u : p.k / 32u, xq4 = p.qsOff >> 2;
	uint steps = (units + LEAVES - 1u) / LEAVES;
	const uint GROUPS = LEAVES / LANES;
	uint levels = findMSB(GROUPS);

	float part[ROWS * NCOLS]; // the leaf's partial sum
	float total[ROWS * NCOLS]; // SUBGROUP: the groups' sum so far
	float stack[ROWS * NCOLS * 3]; // !SUBGROUP: pending pairs, by level (LANES 8)
	for (uint i = 0u; i < ROWS * NCOLS; i++) {
		total[i] = 0.0;
	}

	for (uint gi = 0u; gi < GROUPS; gi++) {
#if SUBGROUP
		uint g = gi;
#else
		uint g = bitReverse(gi, levels);
#endif
		for (uint i = 0u; i < ROWS * NCOLS; i++) {
			part[i] = 0.0;
		}
		for (uint j = 0u; j < steps; j++) {
			uint ub = j * LEAVES + g * LANES; // the step's first unit
			if (ub >= units) {
				break;
			}
			barrier();
			for (uint s = tid; s < NCOLS * LANES; s += WG) {
				uint c = s / LANES, u = ub + s % LANES;
				if (c < nc && u < units) {
					uint blk, qi;
					if (kq) {
						blk = (c0 + c) * nb + (u >> 3u);
						qi = xq4 + blk * 16u + 2u * (u & 7u);
						uint g0 = 2u * (u & 7u);
						xsS[s] = ivec2(int(XQ[p.sOff + blk * 16u + g0]), int(XQ[p.sOff + blk * 16u + g0 + 1u]));
					} else {
						blk = (c0 + c) * nb + u;
						qi = xq4 + 2u * blk;
						xsS[s] = ivec2(int(XQ[p.sOff + blk]), 0);
					}
					xsQ[2u * s] = XQ4[qi];
					xsQ[2u * s + 1u] = XQ4[qi + 1u];
					xsD[s] = uintBitsToFloat(XQ[p.dOff + blk]);
				}
			}
			barrier();
			uint u = ub + lane;
			for (uint r = 0u; r < ROWS; r++) {
				if (r >= nr || u >= units) {
					break;
				}
				uint row = p.wBase + (r0 + r) * p.rowBytes;
				if (kq) {
					// As matmul.glsl's K-quant loop: sub-block u, groups g0, g0+1.
					uint b = u >> 3u, g0 = 2u * (u & 7u);
					uint qb, mb;
					kBases(row, nb, b, qb, mb);
					KGroup q0 = kGroup(g0), q1 = kGroup(g0 + 1u);
					uint w0[4], w1[4];
					kGroupWords(qb, q0, w0);
					kGroupWords(qb, q1, w1);
					uvec4 wa = uvec4(w0[0], w0[1], w0[2], w0[3]), wb = uvec4(w1[0], w1[1], w1[2], w1[3]);
					ivec2 sm0 = kScaleMin(mb, g0), sm1 = kScaleMin(mb, g0 + 1u);
					vec2 dd = kScales(mb);
					for (uint c = 0u; c < NCOLS; c++) {
						if (c >= nc) {
							break;
						}
						uint s = c * LANES + lane;
						ivec2 bs = xsS[s];
						int s0 = dot16(wa, xsQ[2u * s]) - q0.bias * bs.x;
						int s1 = dot16(wb, xsQ[2u * s + 1u]) - q1.bias * bs.y;
						int isum = sm0.x * s0 + sm1.x * s1;
						float dx = xsD[s];
						precise float d1 = dx * dd.x;
						precise float v = d1 * float(isum);
						if (kHasMin()) {
							int msum = sm0.y * bs.x + sm1.y * bs.y;
							precise float d2 = dx * dd.y;
							precise float t2 = d2 * float(msum);
							v = v - t2;
						}
						precise float a = part[r * NCOLS + c] + v;
						part[r * NCOLS + c] = a;
					}
				} else {
					uint q[8];
					blockQuants(row, nb, u, q);
					uvec4 wa = uvec4(q[0], q[1], q[2], q[3]), wb = uvec4(q[4], q[5], q[6], q[7]);
					float dw = blockD(row, nb, u);
					float mw = hasMin() ? blockM(row, nb, u) : 0.0;
					for (uint c = 0u; c < NCOLS; c++) {
						if (c >= nc) {
							break;
						}
						uint s = c * LANES + lane;
						int isum = dot16(wa, xsQ[2u * s]) + dot16(wb, xsQ[2u * s + 1u]);
						precise float dd = dw * xsD[s];
						precise float v = dd * float(isum);
						if (hasMin()) {
							precise float ms = mw * intBitsToFloat(xsS[s].x);
							v = v + ms;
						}
						precise float a = part[r * NCOLS + c] + v;
						part[r * NCOLS + c] = a;
					}
				}
			}
		}
#if SUBGROUP
		// A group with no unit sums to +0 however subgroupAdd associates.
		bool empty = g * LANES >= units;
		for (uint i = 0u; i < ROWS * NCOLS; i++) {
			if (i / NCOLS < nr && i % NCOLS < nc) {
				float v = empty ? 0.0 : subgroupAdd(part[i]);
				if (g == 0u) {
					total[i] = v;
				} else {
					precise float a = total[i] + v;
					total[i] = a;
				}
			}
		}
#else
		// Push the leaf onto the stack: a pair completes at every level
		// where gi has a one bit.
		for (uint i = 0u; i < ROWS * NCOLS; i++) {
			float v = part[i];
			for (uint lv = 0u; lv < levels; lv++) {
				if ((gi & (1u << lv)) == 0u) {
					stack[i * 3u + lv] = v;
					break;
				}
				precise float a = stack[i * 3u + lv] + v;
				v = a;
			}
			if (gi == GROUPS - 1u) {
				total[i] = v;
			}
		}
#endif
	}

#if SUBGROUP
	for (uint i = 0u; i < ROWS * NCOLS; i++) {
		uint r = i / NCOLS, c = i % NCOLS;
		if (r < nr && c < nc && i % LANES == lane) {
			store((c0 + c) * p.dstStride + r0 + r, total[i]);
		}
	}
#else
	for (uint i = 0u; i < ROWS * NCOLS; i++) {
		red[i * WG + tid] = total[i];
	}
	for (uint s = LANES / 2u; s > 0u; s >>= 1) {
		barrier();
		if (lane < s) {
			for (uint i = 0u; i < ROWS * NCOLS; i++) {
				precise float a = red[i * WG + tid] + red[i * WG + tid + s];
				red[i * WG + tid] = a;
			}
		}
	}
	barrier();
	for (uint i = 0u; i < ROWS * NCOLS; i++) {
		uint r = i / NCOLS, c = i % NCOLS;
		if (r < nr && c < nc && lane == 0u) {
			store((c0 + c) * p.dstStride + r0 + r, red[i * WG + tid]);
		}
	}
#endif
}
