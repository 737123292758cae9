#version 450
#extension GL_GOOGLE_include_directive : require
// rope: rotary position embedding in place. One invocation per (row, head,
// pair i < dims/2): theta = pos * thetaScale^i (by repeated multiplication, as
// the CPU does), divided by factor i when given, times freqScale (or with
// YaRN blended with the unscaled angle, cos and sin times mscale). Mode 0 rotates
// (2i, 2i+1), mode 1 (NeoX) rotates (i, i + dims/2).
#include "common.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer Xb { float X[]; };
layout(std430, binding = 1) readonly buffer Pb { int pos[]; };
layout(std430, binding = 2) readonly buffer Fb { float F[]; };

layout(push_constant) uniform P {
	uint xOff, posOff, fOff, hasFactors;
	uint rows, cols, headDim, dims;
	uint mode;
	float thetaScale, freqScale;
	float extFactor, corr0, corr1, mscale; // YaRN when extFactor != 0 (see backend.RoPE)
} p;

// Accurate sine and cosine for large arguments: Vulkan's built-ins are only
// specified inside [-pi, pi]. Cody-Waite reduction by pi/2, then minimax
// polynomials on [-pi/4, pi/4].
void sincosAcc(float x, out float s, out float c) {
	float k = roundEven(x * 0.63661977236758134);
	precise float r = fma(-k, 1.5703125, x);
	r = fma(-k, 4.8375129699707031e-4, r);
	r = fma(-k, 7.5497899548918821e-8, r);
	float r2 = r * r;
	float ps = ((-1.9515295891e-4 * r2 + 8.3321608736e-3) * r2 - 1.6666654611e-1) * r2 * r + r;
	float pc = ((2.443315711809948e-5 * r2 - 1.388731625493765e-3) * r2 + 4.166664568298827e-2) * r2 * r2 - 0.5 * r2 + 1.0;
	int q = int(k) & 3;
	if (q == 0) {
		s = ps; c = pc;
	} else if (q == 1) {
		s = pc; c = -ps;
	} else if (q == 2) {
		s = -ps; c = -pc;
	} else {
		s = -pc; c = ps;
	}
}

void main() {
	uint half_ = p.dims / 2u;
	uint heads = p.cols / p.headDim;
	uint id = flatGroup() * 64u + gl_LocalInvocationID.x;
	if (id >= p.rows * heads * half_) {
		return;
	}
	uint i = id % half_;
	uint h = (id / half_) % heads;
	uint row = id / (half_ * heads);
	precise float theta = float(pos[p.posOff + row]);
	for (uint j = 0u; j < i; j++) {
		theta = theta * p.thetaScale;
	}
	precise float t = theta;
	if (p.hasFactors != 0u) {
		t = divCR(t, F[p.fOff + i]);
	}
	float s, c;
	if (p.extFactor != 0.0) {
		precise float y = divCR(float(i) - p.corr0, max(0.001, p.corr1 - p.corr0));
		precise float mix_ = (1.0 - min(1.0, max(0.0, y))) * p.extFactor;
		precise float interp = p.freqScale * t;
		precise float ty = interp * (1.0 - mix_) + t * mix_;
		sincosAcc(ty, s, c);
		precise float sm = s * p.mscale;
		precise float cm = c * p.mscale;
		s = sm;
		c = cm;
	} else {
		t = t * p.freqScale;
		sincosAcc(t, s, c);
	}
	uint base = p.xOff + row * p.cols + h * p.headDim;
	uint a = p.mode == 1u ? i : 2u * i;
	uint b = p.mode == 1u ? i + half_ : 2u * i + 1u;
	float x0 = X[base + a], x1 = X[base + b];
	precise float y0 = x0 * c - x1 * s;
	precise float y1 = x0 * s + x1 * c;
	X[base + a] = y0;
	X[base + b] = y1;
}
