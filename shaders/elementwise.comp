#version 450
#extension GL_GOOGLE_include_directive : require
// elementwise, by OP:
//   0 add      D = A + B
//   1 swiglu   D = silu(A) * B (A the gate)
//   2 geglu    D = gelu(A) * B (gelu in its tanh form)
//   3 add row  D = A + B[i % cols] (B one row, a bias)
//   4 scale    D = A * f
//   5 gelu     D = gelu(A)
//   6 softcap  D = f * tanh(A / f)
// Each invocation reads its own elements before writing its own, so D may
// alias A or B (in-place use).
#include "common.glsl"

layout(constant_id = 0) const uint OP = 0;
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Ab { float A[]; };
layout(std430, binding = 1) readonly buffer Bb { float B[]; };
layout(std430, binding = 2) writeonly buffer Db { float D[]; };

layout(push_constant) uniform P {
	uint aOff, bOff, dOff, count;
	uint cols; // row length of B for OP 3
	float f;   // the scalar of OP 4 and 6
} p;

void main() {
	uint i = flatGroup() * 256u + gl_LocalInvocationID.x;
	if (i >= p.count) {
		return;
	}
	float a = A[p.aOff + i];
	if (OP == 0u) {
		precise float r = a + B[p.bOff + i];
		D[p.dOff + i] = r;
	} else if (OP == 1u) {
		precise float silu = a / (1.0 + exp(-a));
		D[p.dOff + i] = silu * B[p.bOff + i];
	} else if (OP == 2u) {
		precise float r = geluTanh(a) * B[p.bOff + i];
		D[p.dOff + i] = r;
	} else if (OP == 3u) {
		precise float r = a + B[p.bOff + i % p.cols];
		D[p.dOff + i] = r;
	} else if (OP == 4u) {
		precise float r = a * p.f;
		D[p.dOff + i] = r;
	} else if (OP == 5u) {
		D[p.dOff + i] = geluTanh(a);
	} else {
		precise float r = p.f * tanhR(a / p.f);
		D[p.dOff + i] = r;
	}
}
