// matmul_float.glsl, included by matmul.glsl (not by the matmul_id shaders):
// float weights (F32, F16, BF16) read 8 values a step.
//
// Reduction order: the k columns are cut into groups of 8 (the last one
// shorter when 8 does not divide k, padded with zeros); thread t takes
// groups t, t+WG, ... and adds a group's 8 products to its partial sum one
// after another. The order
// depends on k only, never on the tile, n or the layout, so the outputs are
// bit-identical across batch sizes and tiles; aligned rows (PACKED 2: every
// row 16-byte aligned in the binding) and rows of x whose group starts on a
// 16-byte boundary are read with 128-bit loads, the others a value at a time,
// with the same values.
//
// x is rounded to the weight's type first, as the CPU dots (F16 to nearest
// even, BF16 as kernels.F32ToBF16).

// X's floats in 16-byte units.
layout(std430, binding = 1) readonly buffer X4b { vec4 X4[]; };

// roundHalf is f rounded to the nearest even half, as a float (roundF16
// without its branches): above 2^-14 the mantissa is rounded to 10 bits,
// below the value to a multiple of 2^-24 (adding and subtracting 0.5, both
// exact or correctly rounded); from 65520 on it overflows to infinity.
float roundHalf(float f) {
	uint u = floatBitsToUint(f);
	uint a = u & 0x7fffffffu;
	precise float t = uintBitsToFloat(a) + 0.5;
	precise float s = t - 0.5;
	uint r = (a + 0xfffu + ((a >> 13) & 1u)) & 0xffffe000u;
	r = a < 0x38800000u ? floatBitsToUint(s) : r;
	r = a >= 0x477ff000u ? 0x7f800000u : r;
	r = a > 0x7f800000u ? a : r;
	return uintBitsToFloat(r | (u & 0x80000000u));
}

// roundX is x rounded to the weight type.
float roundX(float x) {
	if (TYPE == T_F16) {
		return roundHalf(x);
	}
	if (TYPE == T_BF16) {
		return bf16tof32(f32tobf16(x));
	}
	return x;
}

// loadX8 reads x[e0, e0+cnt) of X row col (zeros past cnt), rounded.
void loadX8(uint col, uint e0, uint cnt, out float v[8]) {
	uint at = p.xOff + col * p.k + e0;
	if (cnt == 8u && (at & 3u) == 0u) {
		vec4 a = X4[at >> 2], b = X4[(at >> 2) + 1u];
		v = float[8](a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w);
	} else {
		for (uint i = 0u; i < 8u; i++) {
			v[i] = i < cnt ? X[at + i] : 0.0;
		}
	}
	for (uint i = 0u; i < 8u; i++) {
		v[i] = roundX(v[i]);
	}
}

// halves2 unpacks a word of two 16-bit floats of the weight type.
vec2 halves2(uint w) {
	if (TYPE == T_BF16) {
		return vec2(uintBitsToFloat(w << 16), uintBitsToFloat(w & 0xffff0000u));
	}
	return unpackHalf2x16(w);
}

// loadW8 reads weights [e0, e0+cnt) of the row at byte row (zeros past cnt).
void loadW8(uint row, uint e0, uint cnt, out float v[8]) {
	if (cnt == 8u && PACKED == 2u) {
		if (TYPE == T_F32) {
			uint at = (row >> 4) + (e0 >> 2);
			vec4 a = uintBitsToFloat(W4[at]), b = uintBitsToFloat(W4[at + 1u]);
			v = float[8](a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w);
		} else {
			uvec4 q = W4[(row >> 4) + (e0 >> 3)];
			vec2 a = halves2(q.x), b = halves2(q.y), c = halves2(q.z), d = halves2(q.w);
			v = float[8](a.x, a.y, b.x, b.y, c.x, c.y, d.x, d.y);
		}
		return;
	}
	for (uint i = 0u; i < 8u; i++) {
		v[i] = i < cnt ? dequant(row, p.k, e0 + i) : 0.0;
	}
}
