#version 450
#extension GL_GOOGLE_include_directive : require
// rms_norm: D = X / sqrt(mean(X²) + eps) * Wt per row; one workgroup per row.
// Each thread writes only columns it read itself, after the barrier that
// ends the sum, so D may alias X (in-place per-head norms).
// QUANT q > 0 also quantizes D's rows into Q as quantize.comp's mode q-1 does
// (the norm before a quantized matmul, fused: fuse.go); D must not alias X.
#include "common.glsl"

layout(constant_id = 0) const uint QUANT = 0;
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Xb { float X[]; };
layout(std430, binding = 1) readonly buffer Wb { float Wt[]; };
layout(std430, binding = 2) writeonly buffer Db { float D[]; };
layout(std430, binding = 3) writeonly buffer Qb { uint Q[]; };

layout(push_constant) uniform P {
	uint xOff, wOff, dOff;
	uint cols, rows;
	float eps;
	uint qsOff, qdOff, qsumOff; // QUANT > 0: words of Q
} p;

shared float red[256];
float gScale;

// qx is output (row, col), computed as main writes it to D.
float qx(uint row, uint col) {
	precise float y = X[p.xOff + row * p.cols + col] * gScale;
	precise float z = y * Wt[p.wOff + col];
	return z;
}

#include "quant_block.glsl"

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
	if (QUANT == 0u) {
		return;
	}
	gScale = scale;
	uint bs = QUANT == 3u ? 256u : 32u;
	uint nb = p.cols / bs;
	for (uint b = tid; b < nb; b += 256u) {
		if (QUANT == 3u) {
			quantBlockK(row, b * 256u, row * nb + b, p.qsOff, p.qdOff, p.qsumOff);
		} else {
			quantBlock32(QUANT - 1u, row, b * 32u, row * nb + b, p.qsOff, p.qdOff, p.qsumOff);
		}
	}
}
