#version 450
#extension GL_GOOGLE_include_directive : require
// recurrent_ew: the elementwise ops of hybrid models, by OP:
//   0 split halves  A = first half of each row of X (rows x 2c), B = second
//   1 sigmoid mul   D = X * sigmoid(G), G of X's shape or one column
// Bindings: 0 X, 1 B (OP 0, written) or G (OP 1, read), 2 A or D. Each
// invocation reads its own elements before writing, so D may alias X.
#include "common.glsl"

layout(constant_id = 0) const uint OP = 0;
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Xb { float X[]; };
layout(std430, binding = 1) buffer Gb { float G[]; };
layout(std430, binding = 2) writeonly buffer Db { float D[]; };

layout(push_constant) uniform P {
	uint xOff, gOff, dOff, count;
	uint cols;  // c for OP 0, the columns of X for OP 1
	uint gcols; // the columns of G for OP 1: cols or 1
} p;

void main() {
	uint i = flatGroup() * 256u + gl_LocalInvocationID.x;
	if (i >= p.count) {
		return;
	}
	uint r = i / p.cols, c = i % p.cols;
	if (OP == 0u) {
		float lo = X[p.xOff + 2u * r * p.cols + c];
		float hi = X[p.xOff + (2u * r + 1u) * p.cols + c];
		D[p.dOff + i] = lo;
		G[p.gOff + i] = hi;
	} else {
		float g = G[p.gOff + (p.gcols == 1u ? r : i)];
		precise float sig = 1.0 / (1.0 + exp(-g));
		precise float y = X[p.xOff + i] * sig;
		D[p.dOff + i] = y;
	}
}
