#version 450
#extension GL_GOOGLE_include_directive : require
// layer_norm: D = (X - mean) / sqrt(var + eps) * Wt + Bs per row; one
// workgroup per row. The mean, then the variance of the centred values, are
// tree sums in F32 (backend/cpu sums in F64). Each thread reads and writes
// only its own columns, and every read of a row precedes the barrier before
// the writes, so D may alias X.
#include "common.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Xb { float X[]; };
layout(std430, binding = 1) readonly buffer Wb { float Wt[]; };
layout(std430, binding = 2) readonly buffer Bb { float Bs[]; };
layout(std430, binding = 3) writeonly buffer Db { float D[]; };

layout(push_constant) uniform P {
	uint xOff, wOff, bOff, dOff;
	uint cols, rows;
	float eps;
} p;

shared float red[256];

float reduceSum(float v) {
	uint tid = gl_LocalInvocationID.x;
	red[tid] = v;
	barrier();
	for (uint s = 128u; s > 0u; s >>= 1) {
		if (tid < s) {
			red[tid] += red[tid + s];
		}
		barrier();
	}
	float r = red[0];
	barrier();
	return r;
}

void main() {
	uint row = flatGroup();
	uint tid = gl_LocalInvocationID.x;
	if (row >= p.rows) {
		return;
	}
	uint x0 = p.xOff + row * p.cols;
	float sum = 0.0;
	for (uint i = tid; i < p.cols; i += 256u) {
		sum += X[x0 + i];
	}
	float mean = reduceSum(sum) / float(p.cols);
	float sq = 0.0;
	for (uint i = tid; i < p.cols; i += 256u) {
		precise float c = X[x0 + i] - mean;
		sq += c * c;
	}
	float variance = reduceSum(sq) / float(p.cols);
	float scale = 1.0 / sqrt(variance + p.eps);
	uint d0 = p.dOff + row * p.cols;
	for (uint i = tid; i < p.cols; i += 256u) {
		precise float y = (X[x0 + i] - mean) * scale * Wt[p.wOff + i] + Bs[p.bOff + i];
		D[d0 + i] = y;
	}
}
