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

// loadX8 reads x[e0, e0+cnt) of X row col (zeros past cnt), rounded, as
// two vec4.
void loadX8(uint col, uint e0, uint cnt, out vec4 lo, out vec4 hi) {
	uint at = p.xOff + col * p.k + e0;
	if (cnt == 8u && (at & 3u) == 0u) {
		lo = X4[at >> 2];
		hi = X4[(at >> 2) + 1u];
	} else {
		for (uint i = 0u; i < 4u; i++) {
			lo[i] = i < cnt ? X[at + i] : 0.0;
			hi[i] = i + 4u < cnt ? X[at + 4u + i] : 0.0;
		}
	}
	for (uint i = 0u; i < 4u; i++) {
		lo[i] = roundX(lo[i]);
		hi[i] = roundX(hi[i]);
	}
}

// halves2 unpacks a word of two 16-bit floats of the weight type.
vec2 halves2(uint w) {
	if (TYPE == T_BF16) {
		return vec2(uintBitsToFloat(w << 16), uintBitsToFloat(w & 0xffff0000u));
	}
	return unpackHalf2x16(w);
}

// loadW8 reads weights [e0, e0+cnt) of the row at byte row (zeros past
// cnt) as two vec4.
void loadW8(uint row, uint e0, uint cnt, out vec4 lo, out vec4 hi) {
	if (cnt == 8u && PACKED == 2u) {
		if (TYPE == T_F32) {
			uint q = (row >> 4) + (e0 >> 2);
			lo = uintBitsToFloat(W4[q]);
			hi = uintBitsToFloat(W4[q + 1u]);
		} else {
			uvec4 q = W4[(row >> 4) + (e0 >> 3)];
			lo = vec4(halves2(q.x), halves2(q.y));
			hi = vec4(halves2(q.z), halves2(q.w));
		}
		return;
	}
	for (uint i = 0u; i < 4u; i++) {
		lo[i] = i < cnt ? dequant(row, p.k, e0 + i) : 0.0;
		hi[i] = i + 4u < cnt ? dequant(row, p.k, e0 + 4u + i) : 0.0;
	}
}

// dot8 adds the 8 products of w and x to a one after another.
float dot8(float a, vec4 wlo, vec4 whi, vec4 xlo, vec4 xhi) {
	for (uint i = 0u; i < 4u; i++) {
		precise float prod = wlo[i] * xlo[i];
		precise float s = a + prod;
		a = s;
	}
	for (uint i = 0u; i < 4u; i++) {
		precise float prod = whi[i] * xhi[i];
		precise float s = a + prod;
		a = s;
	}
	return a;
}
