#version 450
#extension GL_GOOGLE_include_directive : require
// kv_write: cache row rows[i] = S row i, converted to the cache's type TYPE
// (gguf numbering): F32, F16 (two values a word: cols even), or the 32-value
// blocks Q8_0 and Q4_0, quantized as ggml's reference quantizers do
// (kernels.quantizeQ8_0 and quantizeQ4_0, bit for bit). The binding is one
// window of the cache: rows rowLo..rowHi-1, the others are left to the
// dispatches of their windows.
//
// F32/F16: one invocation per word. Q8_0/Q4_0: one per block, whose 34 or 18
// bytes need not start on a word: the words it shares with a neighbouring
// block are merged with atomicAnd and atomicOr (disjoint bytes, so any
// order gives the same word); the others are stored.
#include "common.glsl"
#include "div_rn.glsl"

layout(constant_id = 0) const uint TYPE = 0;
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Sb { float S[]; };
layout(std430, binding = 1) readonly buffer Rb { int R[]; };
layout(std430, binding = 2) buffer Cb { uint C[]; };

layout(push_constant) uniform P {
	uint sOff, rOff; // words
	uint cOff;       // bytes from the binding's start to row rowLo
	uint cols, n;
	uint rowLo, rowHi; // the window's rows
} p;

// storeWord writes the bytes of bits that mask m selects into C[word].
void storeWord(uint word, uint bits, uint m) {
	if (m == 0xffffffffu) {
		C[word] = bits;
	} else if (m != 0u) {
		atomicAnd(C[word], ~m);
		atomicOr(C[word], bits & m);
	}
}

// blockBytes[k] holds bytes 4k..4k+3 of the block being written.
uint blockBytes[9];

void putByte(uint i, uint v) {
	blockBytes[i >> 2] |= (v & 0xffu) << (8u * (i & 3u));
}

// writeBlock stores nbytes of blockBytes at byte offset at.
void writeBlock(uint at, uint nbytes) {
	uint first = at >> 2, last = (at + nbytes - 1u) >> 2;
	uint shift = at & 3u; // the block's byte 0 is byte shift of word first
	for (uint wd = first; wd <= last; wd++) {
		uint bits = 0u, m = 0u;
		for (uint k = 0u; k < 4u; k++) {
			uint pos = (wd << 2) + k; // byte offset in the binding
			if (pos >= at && pos < at + nbytes) {
				uint j = pos - at;
				bits |= ((blockBytes[j >> 2] >> (8u * (j & 3u))) & 0xffu) << (8u * k);
				m |= 0xffu << (8u * k);
			}
		}
		storeWord(wd, bits, m);
	}
}

void main() {
	uint i = gl_WorkGroupID.y;
	uint w = gl_WorkGroupID.x * 256u + gl_LocalInvocationID.x;
	if (i >= p.n) {
		return;
	}
	int r = R[p.rOff + i];
	if (r < int(p.rowLo) || r >= int(p.rowHi)) {
		return;
	}
	uint rr = uint(r) - p.rowLo;
	uint s0 = p.sOff + i * p.cols;
	if (TYPE == T_F32 || TYPE == T_F16) {
		uint words = TYPE == T_F32 ? p.cols : p.cols / 2u;
		if (w >= words) {
			return;
		}
		uint dst = (p.cOff >> 2) + rr * words + w;
		if (TYPE == T_F32) {
			C[dst] = floatBitsToUint(S[s0 + w]);
		} else {
			C[dst] = f32tof16(S[s0 + 2u * w]) | (f32tof16(S[s0 + 2u * w + 1u]) << 16);
		}
		return;
	}
	uint nb = p.cols / 32u;
	if (w >= nb) {
		return;
	}
	uint bsize = TYPE == T_Q8_0 ? 34u : 18u;
	for (uint k = 0u; k < 9u; k++) {
		blockBytes[k] = 0u;
	}
	uint x0 = s0 + 32u * w;
	if (TYPE == T_Q8_0) {
		float amax = 0.0;
		for (uint j = 0u; j < 32u; j++) {
			amax = max(amax, abs(S[x0 + j]));
		}
		float d = divRN(amax, 127.0);
		float id = d != 0.0 ? divRN(1.0, d) : 0.0;
		uint h = f32tof16(d);
		putByte(0u, h);
		putByte(1u, h >> 8);
		for (uint j = 0u; j < 32u; j++) {
			precise float v = S[x0 + j] * id;
			putByte(2u + j, uint(int(roundAway(v))));
		}
	} else {
		float amax = 0.0, mx = 0.0; // the value of largest magnitude, the first on ties
		for (uint j = 0u; j < 32u; j++) {
			float v = S[x0 + j];
			if (amax < abs(v)) {
				amax = abs(v);
				mx = v;
			}
		}
		float d = divRN(mx, -8.0);
		float id = d != 0.0 ? divRN(1.0, d) : 0.0;
		uint h = f32tof16(d);
		putByte(0u, h);
		putByte(1u, h >> 8);
		for (uint j = 0u; j < 16u; j++) {
			precise float a = S[x0 + j] * id;
			precise float b = S[x0 + j + 16u] * id;
			precise float a8 = a + 8.5;
			precise float b8 = b + 8.5;
			uint q0 = uint(min(15, int(a8)));
			uint q1 = uint(min(15, int(b8)));
			putByte(2u + j, q0 | (q1 << 4));
		}
	}
	writeBlock(p.cOff + rr * nb * bsize + w * bsize, bsize);
}
