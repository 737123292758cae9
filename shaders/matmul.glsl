// matmul.glsl, included by matmul.comp (SUBGROUP 0) and matmul_sg.comp
// (SUBGROUP 1, for devices with subgroup arithmetic).
//
// matmul: D[c][r] = dot(W row r, X row c) for weights of any TYPE, one shader
// for decode (n = 1) and prefill (n > 1). A workgroup computes ROWS weight rows
// for NCOLS rows of X, reading each weight block once for all of them.
//
// Batch invariance: thread t always sums blocks (float weights: groups of 8
// columns) t, t+WG, t+2WG, ... of a row
// product in that order, and the WG partial sums are combined by the same fixed
// tree (a shared-memory tree, or with SUBGROUP a subgroupAdd per subgroup
// then the subgroups' sums in order), so an output's value never depends on n
// or on its neighbours.
//
// Quantized weights are dotted with X quantized by quantize.comp (Q8_0 or Q8_1
// blocks, Q8_K for the K-quants and IQ4_XS): an exact integer sum per block
// (for the K-quants, per 32-value sub-block) of packed 4x8-bit dot products
// (dot4: the device's own with INTDOT), then (d_w*d_x)*isum (+ m_w*s_x, or
// - (dmin*d_x)*msum) in float. A K-quant's stored bias (Q6_K's 32) comes off
// the integer sum as bias*sum(x), from Q8_K's sums. Float weights
// (F32/F16/BF16) are dotted with X rounded to the weight's type, products
// summed in F32, 8 columns a step (matmul_float.glsl; the matmul_id shaders
// keep one column a step).
#include "common.glsl"

layout(constant_id = 0) const uint TYPE = 0;
layout(constant_id = 1) const uint ROWS = 2;
layout(constant_id = 2) const uint NCOLS = 8;
// ADD 1: the residual add in the epilogue, R += D as Add(x, x, d) computes it
// (fuse.go's addIntoMatMul). ADD 2: then the RMSNorm of R's rows into ND, as
// rms_norm.comp computes it, by the workgroup that finishes last (a counter
// in CNT says which); ADD 3, 4, 5: and quantized as quantize.comp's mode
// ADD-3 into Q (fuse.go's normIntoMatMul; decode batches only: one workgroup
// normalizes every row).
layout(constant_id = 3) const uint ADD = 0;
// PACKED: the weights' layout (decode.glsl).
layout(constant_id = 4) const uint PACKED = 0;
#define WG 64u
layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer Wb { uint W[]; };
layout(std430, binding = 0) readonly buffer W4b { uvec4 W4[]; };
layout(std430, binding = 1) readonly buffer Xb { float X[]; };
layout(std430, binding = 2) readonly buffer Qb { uint XQ[]; };
// X's quants in 16-byte units (qsOff is a multiple of 4 words).
layout(std430, binding = 2) readonly buffer Q4b { uvec4 XQ4[]; };
layout(std430, binding = 3) writeonly buffer Db { float D[]; };
layout(std430, binding = 4) coherent buffer Rb { float R[]; };
layout(std430, binding = 5) readonly buffer NWb { float NW[]; };
layout(std430, binding = 6) writeonly buffer NDb { float ND[]; };
layout(std430, binding = 7) coherent buffer Cb { uint CNT[]; };
// The quantized norm may go where X's quants came from: the last workgroup
// writes it once every workgroup has read them.
layout(std430, binding = 8) writeonly buffer QOut { uint Q[]; };
#ifdef EXPERT_TILES
// matmul_id (MatMulID, moe.go): workgroup row y is tile y of moe_group.comp,
// X rows of one expert: (expert, first row, rows); W is the stack of experts.
layout(std430, binding = 9) readonly buffer Tb { uint TILES[]; };
#endif

layout(push_constant) uniform P {
	uint wBase;    // byte offset of weight row 0 within W
	uint rowBytes;
	uint m;        // weight rows in this dispatch
	uint k;
	uint n;        // rows of X
	uint xOff;     // words, float weights only
	uint qsOff, dOff, sOff; // words, quantized weights only
	uint dstOff;   // words: D index of output (0, 0)
	uint dstStride; // words between rows of D (and R)
	uint rOff;      // words: R index of output (0, 0), when ADD
	uint nwOff, ndOff; // words, ADD >= 2: the norm's weight and output
	float eps;
	uint nqsOff, nqdOff, nqsumOff; // words of Q, ADD >= 3
	uint slot;      // the counter in CNT
} p;

#include "decode.glsl"
#ifndef EXPERT_TILES
#include "matmul_float.glsl"
#endif

#include "int_dot.glsl"

shared float red[ROWS * NCOLS * WG];
shared bool lastGroup;
float gScale;
uint gRowBase;

// qx is the normalized value of R row (gRowBase), column col.
float qx(uint row, uint col) {
	precise float y = R[gRowBase + col] * gScale;
	precise float z = y * NW[p.nwOff + col];
	return z;
}

#include "quant_block.glsl"

// normRows is the RMSNorm (and quantize) of R's n rows of m, after every
// workgroup's residual add; the sum of squares is rms_norm.comp's: 256
// strided partial sums, then the same tree.
void normRows(uint tid) {
	for (uint c = 0u; c < p.n; c++) {
		uint base = p.rOff + c * p.dstStride;
		for (uint lane = tid; lane < 256u; lane += WG) {
			float sum = 0.0;
			for (uint i = lane; i < p.m; i += 256u) {
				float v = R[base + i];
				sum += v * v;
			}
			red[lane] = sum;
		}
		barrier();
		for (uint s = 128u; s > 0u; s >>= 1) {
			for (uint lane = tid; lane < s; lane += WG) {
				red[lane] += red[lane + s];
			}
			barrier();
		}
		float mean = red[0] / float(p.m);
		float scale = 1.0 / sqrt(mean + p.eps);
		barrier();
		for (uint i = tid; i < p.m; i += WG) {
			precise float y = R[base + i] * scale;
			ND[p.ndOff + c * p.m + i] = y * NW[p.nwOff + i];
		}
		if (ADD >= 3u) {
			gScale = scale;
			gRowBase = base;
			uint bs = ADD == 5u ? 256u : 32u;
			uint nb = p.m / bs;
			for (uint b = tid; b < nb; b += WG) {
				if (ADD == 5u) {
					quantBlockK(c, b * 256u, c * nb + b, p.nqsOff, p.nqdOff, p.nqsumOff);
				} else {
					quantBlock32(ADD - 3u, c, b * 32u, c * nb + b, p.nqsOff, p.nqdOff, p.nqsumOff);
				}
			}
		}
	}
}

// finish runs normRows in the workgroup that finishes last.
void finish(uint tid) {
	memoryBarrierBuffer();
	barrier();
	if (tid == 0u) {
		uint total = gl_NumWorkGroups.x * gl_NumWorkGroups.y;
		lastGroup = atomicAdd(CNT[p.slot], 1u) == total - 1u;
	}
	barrier();
	if (!lastGroup) {
		return;
	}
	memoryBarrierBuffer();
	if (tid == 0u) {
		CNT[p.slot] = 0u; // for the next dispatch, after a barrier
	}
	normRows(tid);
}

// store writes output i (row-major index within the dispatch's outputs).
void store(uint i, float v) {
	D[p.dstOff + i] = v;
	if (ADD != 0u) {
		precise float s = R[p.rOff + i] + v;
		R[p.rOff + i] = s;
	}
}

void main() {
	uint tid = gl_LocalInvocationID.x;
	uint r0 = gl_WorkGroupID.x * ROWS;
	uint c0 = gl_WorkGroupID.y * NCOLS;
	uint nr = min(ROWS, p.m - r0);
	uint nc = min(NCOLS, p.n - c0);
	uint wBase = p.wBase;
#ifdef EXPERT_TILES
	uint tile = 3u * gl_WorkGroupID.y;
	if (TILES[tile + 2u] == 0u) {
		return;
	}
	wBase += TILES[tile] * p.m * p.rowBytes;
	c0 = TILES[tile + 1u];
	nc = TILES[tile + 2u];
#endif
	float acc[ROWS * NCOLS];
	for (uint i = 0u; i < ROWS * NCOLS; i++) {
		acc[i] = 0.0;
	}

	if (isK()) {
		// K-quants and IQ4_XS against Q8_K activations (quantize.comp mode 2),
		// a 32-value sub-block (groups g0, g0+1 of 16) a step: the exact
		// integer sums isum = sum_g s_g*sum_i q_i*a_i and msum = sum_g m_g*bsum_g,
		// then (d_x*d)*isum - (d_x*dmin)*msum in float.
		uint nb = p.k / 256u, xq4 = p.qsOff >> 2;
		for (uint u = tid; u < p.k / 32u; u += WG) {
			uint b = u >> 3u, g0 = 2u * (u & 7u);
			for (uint r = 0u; r < ROWS; r++) {
				if (r >= nr) {
					break;
				}
				uint qb, mb;
				kBases(wBase + (r0 + r) * p.rowBytes, nb, b, qb, mb);
				KGroup q0 = kGroup(g0), q1 = kGroup(g0 + 1u);
				uint w0[4], w1[4];
				kGroupWords(qb, q0, w0);
				kGroupWords(qb, q1, w1);
				ivec2 sm0 = kScaleMin(mb, g0), sm1 = kScaleMin(mb, g0 + 1u);
				vec2 dd = kScales(mb);
				for (uint c = 0u; c < NCOLS; c++) {
					if (c >= nc) {
						break;
					}
					uint blk = (c0 + c) * nb + b;
					uvec4 xa = XQ4[xq4 + blk * 16u + 2u * (u & 7u)], xb = XQ4[xq4 + blk * 16u + 2u * (u & 7u) + 1u];
					int bs0 = int(XQ[p.sOff + blk * 16u + g0]), bs1 = int(XQ[p.sOff + blk * 16u + g0 + 1u]);
					int s0 = dot16(uvec4(w0[0], w0[1], w0[2], w0[3]), xa) - q0.bias * bs0;
					int s1 = dot16(uvec4(w1[0], w1[1], w1[2], w1[3]), xb) - q1.bias * bs1;
					int isum = sm0.x * s0 + sm1.x * s1;
					float dx = uintBitsToFloat(XQ[p.dOff + blk]);
					precise float d1 = dx * dd.x;
					precise float v = d1 * float(isum);
					if (kHasMin()) {
						int msum = sm0.y * bs0 + sm1.y * bs1;
						precise float d2 = dx * dd.y;
						precise float t2 = d2 * float(msum);
						v = v - t2;
					}
					precise float a = acc[r * NCOLS + c] + v;
					acc[r * NCOLS + c] = a;
				}
			}
		}
	} else if (isQuant()) {
		uint nb = p.k / 32u, xq4 = p.qsOff >> 2;
		for (uint b = tid; b < nb; b += WG) {
			for (uint r = 0u; r < ROWS; r++) {
				if (r >= nr) {
					break;
				}
				uint row = wBase + (r0 + r) * p.rowBytes;
				uint q[8];
				blockQuants(row, nb, b, q);
				uvec4 wa = uvec4(q[0], q[1], q[2], q[3]), wb = uvec4(q[4], q[5], q[6], q[7]);
				float dw = blockD(row, nb, b);
				float mw = hasMin() ? blockM(row, nb, b) : 0.0;
				for (uint c = 0u; c < NCOLS; c++) {
					if (c >= nc) {
						break;
					}
					uint blk = (c0 + c) * nb + b;
					uvec4 xa = XQ4[xq4 + 2u * blk], xb = XQ4[xq4 + 2u * blk + 1u];
					int isum = dot16(wa, xa) + dot16(wb, xb);
					float dx = uintBitsToFloat(XQ[p.dOff + blk]);
					precise float dd = dw * dx;
					precise float v = dd * float(isum);
					if (hasMin()) {
						precise float ms = mw * uintBitsToFloat(XQ[p.sOff + blk]);
						v = v + ms;
					}
					precise float a = acc[r * NCOLS + c] + v;
					acc[r * NCOLS + c] = a;
				}
			}
		}
	} else {
#ifndef EXPERT_TILES
		// Float weights, 8 values a step (matmul_float.glsl): X's values
		// loaded and rounded once a group; with several X rows, the weight
		// rows' values once a group too.
		vec4 wv[ROWS * 2u];
		for (uint g = tid; g < (p.k + 7u) / 8u; g += WG) {
			uint e0 = g * 8u, cnt = min(8u, p.k - e0);
			if (NCOLS > 1u) {
				for (uint r = 0u; r < ROWS; r++) {
					if (r >= nr) {
						break;
					}
					loadW8(wBase + (r0 + r) * p.rowBytes, e0, cnt, wv[2u * r], wv[2u * r + 1u]);
				}
			}
			for (uint c = 0u; c < NCOLS; c++) {
				if (c >= nc) {
					break;
				}
				vec4 xlo, xhi;
				loadX8(c0 + c, e0, cnt, xlo, xhi);
				for (uint r = 0u; r < ROWS; r++) {
					if (r >= nr) {
						break;
					}
					vec4 wlo, whi;
					if (NCOLS == 1u) {
						loadW8(wBase + (r0 + r) * p.rowBytes, e0, cnt, wlo, whi);
					} else {
						wlo = wv[2u * r];
						whi = wv[2u * r + 1u];
					}
					acc[r * NCOLS + c] = dot8(acc[r * NCOLS + c], wlo, whi, xlo, xhi);
				}
			}
		}
#else
		for (uint e = tid; e < p.k; e += WG) {
			for (uint r = 0u; r < ROWS; r++) {
				if (r >= nr) {
					break;
				}
				float wv = dequant(wBase + (r0 + r) * p.rowBytes, p.k, e);
				for (uint c = 0u; c < NCOLS; c++) {
					if (c >= nc) {
						break;
					}
					float xv = X[p.xOff + (c0 + c) * p.k + e];
					if (TYPE == T_F16) {
						xv = roundF16(xv);
					} else if (TYPE == T_BF16) {
						xv = bf16tof32(f32tobf16(xv));
					}
					precise float prod = wv * xv;
					precise float a = acc[r * NCOLS + c] + prod;
					acc[r * NCOLS + c] = a;
				}
			}
		}
#endif
	}

	// Only the outputs this workgroup owns are reduced; each one's tree is the
	// same whichever others exist.
#if SUBGROUP
	for (uint i = 0u; i < ROWS * NCOLS; i++) {
		if (i / NCOLS < nr && i % NCOLS < nc) {
			float v = subgroupAdd(acc[i]);
			if (subgroupElect()) {
				red[i * WG + gl_SubgroupID] = v;
			}
		}
	}
	barrier();
	for (uint i = tid; i < ROWS * NCOLS; i += WG) {
		uint r = i / NCOLS, c = i % NCOLS;
		if (r < nr && c < nc) {
			float v = red[i * WG];
			for (uint g = 1u; g < gl_NumSubgroups; g++) {
				precise float a = v + red[i * WG + g];
				v = a;
			}
			store((c0 + c) * p.dstStride + r0 + r, v);
		}
	}
#else
	for (uint i = 0u; i < ROWS * NCOLS; i++) {
		if (i / NCOLS < nr && i % NCOLS < nc) {
			red[i * WG + tid] = acc[i];
		}
	}
	barrier();
	for (uint s = WG / 2u; s > 0u; s >>= 1) {
		if (tid < s) {
			for (uint i = 0u; i < ROWS * NCOLS; i++) {
				if (i / NCOLS < nr && i % NCOLS < nc) {
					precise float a = red[i * WG + tid] + red[i * WG + tid + s];
					red[i * WG + tid] = a;
				}
			}
		}
		barrier();
	}
	for (uint i = tid; i < ROWS * NCOLS; i += WG) {
		uint r = i / NCOLS, c = i % NCOLS;
		if (r < nr && c < nc) {
			store((c0 + c) * p.dstStride + r0 + r, red[i * WG]);
		}
	}
#endif
	if (ADD >= 2u) {
		finish(tid);
	}
}
