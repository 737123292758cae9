#version 450
#extension GL_GOOGLE_include_directive : require
// argmax: D[row] = the index of the largest value of row row of X, as the
// engine's sequential scan picks it (the first on ties; NaNs never chosen,
// except that a NaN at column 0 makes the answer 0). One workgroup per row.
#include "common.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Xb { float X[]; };
layout(std430, binding = 1) writeonly buffer Db { uint D[]; };

layout(push_constant) uniform P {
	uint xOff, dOff;
	uint cols, rows;
} p;

shared float sv[256];
shared uint si[256];

const uint NONE = 0xffffffffu;

// better reports whether (v, i) comes before (w, j): a larger value, or an
// equal one at a lower index; NONE marks no candidate.
bool better(float v, uint i, float w, uint j) {
	if (i == NONE) {
		return false;
	}
	if (j == NONE) {
		return true;
	}
	return v > w || (v == w && i < j);
}

void main() {
	uint row = flatGroup();
	uint tid = gl_LocalInvocationID.x;
	if (row >= p.rows) {
		return;
	}
	uint x0 = p.xOff + row * p.cols;
	float bv = 0.0;
	uint bi = NONE;
	for (uint c = tid; c < p.cols; c += 256u) {
		float v = X[x0 + c];
		if (!isnan(v) && better(v, c, bv, bi)) {
			bv = v;
			bi = c;
		}
	}
	sv[tid] = bv;
	si[tid] = bi;
	barrier();
	for (uint s = 128u; s > 0u; s >>= 1) {
		if (tid < s && better(sv[tid + s], si[tid + s], sv[tid], si[tid])) {
			sv[tid] = sv[tid + s];
			si[tid] = si[tid + s];
		}
		barrier();
	}
	if (tid == 0u) {
		uint r = si[0];
		if (r == NONE || isnan(X[x0])) {
			r = 0u;
		}
		D[p.dOff + row] = r;
	}
}
