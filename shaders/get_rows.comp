#version 450
#extension GL_GOOGLE_include_directive : require
// get_rows: dst row i = table row ids[i], dequantized to F32. The table may be
// bound a window at a time: only ids in [rowLo, rowHi) are handled here.
#include "common.glsl"

layout(constant_id = 0) const uint TYPE = 0;
layout(constant_id = 1) const uint PACKED = 0; // decode.glsl
layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer Wb { uint W[]; };
layout(std430, binding = 0) readonly buffer W4b { uvec4 W4[]; };
layout(std430, binding = 1) readonly buffer Ib { int ids[]; };
layout(std430, binding = 2) writeonly buffer Db { float D[]; };

layout(push_constant) uniform P {
	uint wBase;    // byte offset of table row rowLo within W
	uint rowBytes;
	uint cols;
	uint n;
	uint idsOff;   // words
	uint dstOff;   // words
	uint rowLo, rowHi;
} p;

#include "decode.glsl"

void main() {
	uint e = gl_WorkGroupID.x * 256u + gl_LocalInvocationID.x;
	uint i = gl_WorkGroupID.y;
	if (e >= p.cols || i >= p.n) {
		return;
	}
	int id = ids[p.idsOff + i];
	if (id < int(p.rowLo) || id >= int(p.rowHi)) {
		return;
	}
	uint row = p.wBase + uint(id - int(p.rowLo)) * p.rowBytes;
	D[p.dstOff + i * p.cols + e] = dequant(row, p.cols, e);
}
