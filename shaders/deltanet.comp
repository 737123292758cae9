#version 450
#extension GL_GOOGLE_include_directive : require
// deltanet: the gated delta rule of Gated DeltaNet layers (backend.Recurrent's
// DeltaNet). One workgroup per (sequence, value head) walks the batch's
// tokens of its sequence in order; its state M (ValueDim rows of KeyDim, in
// the state buffer) is split by rows across the invocations, each of which
// owns its rows for the whole batch. Per token: q and k of the value head's
// key head L2-normalised, beta and decay from deltanet_gates, then per row r
// of M:
//   M_r *= decay; u = beta (v_r - M_r·k); M_r += u k; o_r = Scale M_r·q.
// Sums run in column order without fused multiply-adds, as the CPU's.
#include "common.glsl"

#define WG 64u
#define MAXDK 256u

layout(constant_id = 0) const uint TILED = 0; // value head j reads key head j % KeyHeads
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Xb { float QKV[]; };
layout(std430, binding = 1) readonly buffer Gb { float G[]; }; // deltanet_gates' beta and decay
layout(std430, binding = 2) buffer Sb { float M[]; };
layout(std430, binding = 3) readonly buffer Pb { int POS[]; };
layout(std430, binding = 4) readonly buffer Qb { int SEQ[]; };
layout(std430, binding = 5) writeonly buffer Db { float D[]; };

layout(push_constant) uniform P {
	uint xOff, gOff, sOff, pOff, qOff, dOff;
	uint n, hk, hv, dk, dv;
	float eps, scale;
	uint sStride; // of the state's rows: the matrices come first
} p;

shared float sq[MAXDK];
shared float sk[MAXDK];

void main() {
	uint g = gl_WorkGroupID.x;
	uint s = g / p.hv, j = g % p.hv;
	uint tid = gl_LocalInvocationID.x;
	uint hk = p.hk, hv = p.hv, dk = p.dk, dv = p.dv;
	uint per = hv / hk;
	uint kh = TILED != 0u ? j % hk : j / per;
	uint cols = 2u * hk * dk + hv * dv;
	uint state = p.sOff + s * p.sStride + j * dv * dk;
	for (uint t = 0u; t < p.n; t++) {
		if (uint(SEQ[p.qOff + t]) != s) {
			continue; // uniform across the workgroup
		}
		uint row = p.xOff + t * cols;
		for (uint c = tid; c < dk; c += WG) {
			sq[c] = QKV[row + kh * dk + c];
			sk[c] = QKV[row + (hk + kh) * dk + c];
		}
		barrier();
		precise float nq = 0.0;
		precise float nk = 0.0;
		for (uint c = 0u; c < dk; c++) {
			precise float a2 = sq[c] * sq[c];
			precise float b2 = sk[c] * sk[c];
			nq = nq + a2;
			nk = nk + b2;
		}
		precise float qs = 1.0 / sqrt(nq + p.eps);
		precise float ks = 1.0 / sqrt(nk + p.eps);
		float beta = G[p.gOff + t * 2u * hv + j];
		float decay = G[p.gOff + t * 2u * hv + hv + j];
		bool fresh = POS[p.pOff + t] == 0;
		for (uint r = tid; r < dv; r += WG) {
			uint m = state + r * dk;
			precise float mk = 0.0;
			for (uint c = 0u; c < dk; c++) {
				precise float mv = fresh ? 0.0 : M[m + c] * decay;
				precise float kn = sk[c] * ks;
				precise float prod = mv * kn;
				mk = mk + prod;
			}
			precise float diff = QKV[row + 2u * hk * dk + j * dv + r] - mk;
			precise float u = beta * diff;
			precise float o = 0.0;
			for (uint c = 0u; c < dk; c++) {
				precise float mv = fresh ? 0.0 : M[m + c] * decay;
				precise float kn = sk[c] * ks;
				precise float qn = sq[c] * qs;
				precise float upd = u * kn;
				precise float nm = mv + upd;
				M[m + c] = nm;
				precise float prod = nm * qn;
				o = o + prod;
			}
			precise float out_ = o * p.scale;
			D[p.dOff + t * hv * dv + j * dv + r] = out_;
		}
		barrier(); // sq and sk are reloaded for the next token
	}
}
