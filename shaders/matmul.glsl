// matmul.glsl, included by matmul.comp (SUBGROUP 0) and matmul_sg.comp
// (SUBGROUP 1, for devices with subgroup arithmetic).
//
// matmul: D[c][r] = dot(W row r, X row c) for weights of any TYPE, one shader
// for decode (n = 1) and prefill (n > 1). A workgroup computes ROWS weight rows
// for NCOLS rows of X, reading each weight block once for all of them.
//
// Batch invariance: thread t always sums blocks t, t+WG, t+2WG, ... of a row
// product in that order, and the WG partial sums are combined by the same fixed
// tree (a shared-memory tree, or with SUBGROUP a subgroupAdd per subgroup
// then the subgroups' sums in order), so an output's value never depends on n
// or on its neighbours.
//
// Quantized weights are dotted with X quantized by quantize.comp (Q8_0 or Q8_1
// blocks, Q8_K for the K-quants and IQ4_XS): an exact integer sum per block,
// then (d_w*d_x)*isum (+ m_w*s_x, or - (dmin*d_x)*msum) in float, the terms
// the CPU backend sums (for the K-quants with FMAs, in llama.cpp's AMX order).
// Float weights (F32/F16/BF16) are dotted with
// X rounded to the weight's type, products summed in F32.
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
#define WG 64u
layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer Wb { uint W[]; };
layout(std430, binding = 1) readonly buffer Xb { float X[]; };
layout(std430, binding = 2) readonly buffer Qb { uint XQ[]; };
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
		// K-quants and IQ4_XS against Q8_K activations (quantize.comp mode 2):
		// per block, per row of X, the exact integer sums isum = sum_g s_g*sum_i q_i*a_i and
		// msum = sum_g m_g*bsum_g over the 16 groups of 16, then
		// (d_x*d)*isum - (d_x*dmin)*msum in float, as the CPU's Dot.
		uint nb = p.k / 256u;
		uint bb = blockBytes();
		for (uint b = tid; b < nb; b += WG) {
			for (uint r = 0u; r < ROWS; r++) {
				if (r >= nr) {
					break;
				}
				uint off = wBase + (r0 + r) * p.rowBytes + b * bb;
				int isum[NCOLS], msum[NCOLS];
				for (uint c = 0u; c < NCOLS; c++) {
					isum[c] = 0;
					msum[c] = 0;
				}
				for (uint g = 0u; g < 16u; g++) {
					int wq[16];
					kLoadGroup(off, kGroup(g), wq);
					ivec2 sm = kScaleMin(off, g);
					for (uint c = 0u; c < NCOLS; c++) {
						if (c >= nc) {
							break;
						}
						uint blk = (c0 + c) * nb + b;
						int s = 0;
						for (uint w = 0u; w < 4u; w++) {
							int xw = int(XQ[p.qsOff + blk * 64u + 4u * g + w]);
							for (uint t = 0u; t < 4u; t++) {
								s += wq[4u * w + t] * bitfieldExtract(xw, int(8u * t), 8);
							}
						}
						isum[c] += sm.x * s;
						msum[c] += sm.y * int(XQ[p.sOff + blk * 16u + g]);
					}
				}
				vec2 dd = kScales(off);
				for (uint c = 0u; c < NCOLS; c++) {
					if (c >= nc) {
						break;
					}
					float dx = uintBitsToFloat(XQ[p.dOff + (c0 + c) * nb + b]);
					precise float d1 = dx * dd.x;
					precise float v = d1 * float(isum[c]);
					if (kHasMin()) {
						precise float d2 = dx * dd.y;
						precise float t2 = d2 * float(msum[c]);
						v = v - t2;
					}
					precise float a = acc[r * NCOLS + c] + v;
					acc[r * NCOLS + c] = a;
				}
			}
		}
	} else if (isQuant()) {
		uint nb = p.k / 32u;
		uint bb = blockBytes();
		for (uint b = tid; b < nb; b += WG) {
			for (uint r = 0u; r < ROWS; r++) {
				if (r >= nr) {
					break;
				}
				uint off = wBase + (r0 + r) * p.rowBytes + b * bb;
				int wq[32];
				loadQuants(off, wq);
				float dw = blockScale(off);
				float mw = hasMin() ? wF16(off + 2u) : 0.0;
				for (uint c = 0u; c < NCOLS; c++) {
					if (c >= nc) {
						break;
					}
					uint blk = (c0 + c) * nb + b;
					int isum = 0;
					for (uint w = 0u; w < 8u; w++) {
						int xw = int(XQ[p.qsOff + blk * 8u + w]);
						for (uint t = 0u; t < 4u; t++) {
							isum += wq[4u * w + t] * bitfieldExtract(xw, int(8u * t), 8);
						}
					}
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
		for (uint e = tid; e < p.k; e += WG) {
			for (uint r = 0u; r < ROWS; r++) {
				if (r >= nr) {
					break;
				}
				float wv = dequant(wBase + (r0 + r) * p.rowBytes, e);
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
