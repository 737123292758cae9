#version 450
#extension GL_GOOGLE_include_directive : require
// rms_norm: D = X / sqrt(mean(X²) + eps) * Wt per row; one workgroup per row.
// Each thread writes only columns it read itself, after the barrier that
// ends the sum, so D may alias X (in-place per-head norms).
#include "common.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Xb { float X[]; };
layout(std430, binding = 1) readonly buffer Wb { float Wt[]; };
layout(std430, binding = 2) writeonly buffer Db { float D[]; };

layout(push_constant) uniform P {
	uint xOff, wOff, dOff;
	uint cols, rows;
	float eps;
} p;

shared float red[256];

void main() {
	uint row = flatGroup();
	uint tid = gl_LocalInvocationID.x;
	if (row >= p.rows) {
		return;
	}
	uint x0 = p.xOff + row * p.cols;
	float sum = 0.0;
	for (uint i = tid; i < p.cols; i += 256u) {
		float v = X[x0 + i];
		sum += v * v;
	}
	red[tid] = sum;
	barrier();
	for (uint s = 128u; s > 0u; s >>= 1) {
		if (tid < s) {
			red[tid] += red[tid + s];
		}
		barrier();
	}
	float mean = red[0] / float(p.cols);
	float scale = 1.0 / sqrt(mean + p.eps);
	uint d0 = p.dOff + row * p.cols;
	for (uint i = tid; i < p.cols; i += 256u) {
		precise float y = X[x0 + i] * scale;
		D[d0 + i] = y * Wt[p.wOff + i];
	}
}
