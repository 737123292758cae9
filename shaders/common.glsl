// common.glsl: helpers shared by every Conveyor compute shader.
// Buffers are declared as arrays of 32-bit words, so no 8/16-bit storage
// feature is needed; narrower values are unpacked with shifts.

// Weight/table types, numbered as gguf.Type.
#define T_F32 0u
#define T_F16 1u
#define T_Q4_0 2u
#define T_Q4_1 3u
#define T_Q5_0 6u
#define T_Q5_1 7u
#define T_Q8_0 8u
#define T_Q2_K 10u
#define T_Q3_K 11u
#define T_Q4_K 12u
#define T_Q5_K 13u
#define T_Q6_K 14u
#define T_BF16 30u

// f32tof16 converts to IEEE half, rounding to nearest even (as kernels.F32ToF16).
uint f32tof16(float f) {
	uint b = floatBitsToUint(f);
	uint sign = (b >> 16) & 0x8000u;
	int e = int((b >> 23) & 0xffu);
	uint mant = b & 0x7fffffu;
	if (e == 255) {
		return sign | (mant != 0u ? (0x7e00u | (mant >> 13)) : 0x7c00u);
	}
	int he = e - 127 + 15;
	if (he >= 31) {
		return sign | 0x7c00u;
	}
	if (he <= 0) {
		if (he < -10) {
			return sign;
		}
		uint m = mant | 0x800000u;
		uint shift = uint(14 - he);
		uint q = m >> shift;
		uint rem = m & ((1u << shift) - 1u);
		uint halfway = 1u << (shift - 1u);
		if (rem > halfway || (rem == halfway && (q & 1u) == 1u)) {
			q++;
		}
		return sign | q;
	}
	uint h = (uint(he) << 10) | (mant >> 13);
	uint rem = mant & 0x1fffu;
	if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) == 1u)) {
		h++;
	}
	return sign | h;
}

float f16tof32(uint h) { return unpackHalf2x16(h & 0xffffu).x; }

// roundF16 is f rounded to the nearest half, as a float.
float roundF16(float f) { return f16tof32(f32tof16(f)); }

// f32tobf16 rounds to nearest even bfloat16, quieting NaNs (as kernels.F32ToBF16).
uint f32tobf16(float f) {
	uint u = floatBitsToUint(f);
	if ((u & 0x7fffffffu) > 0x7f800000u) {
		return (u >> 16) | 0x40u;
	}
	return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

float bf16tof32(uint h) { return uintBitsToFloat((h & 0xffffu) << 16); }

// divCR is a/b corrected to (almost always) the correctly rounded quotient:
// Vulkan allows 2.5 ulp for division, the CPU rounds exactly. The residual
// a - q*b is computed exactly with Veltkamp/Dekker splitting rather than an
// fma, which some drivers (llvmpipe) do not fuse.
void splitF(float a, out float hi, out float lo) {
	precise float c = 4097.0 * a;
	precise float h = c - (c - a);
	hi = h;
	precise float l = a - h;
	lo = l;
}

float divCR(float a, float b) {
	precise float q = a / b;
	float qh, ql, bh, bl;
	splitF(q, qh, ql);
	splitF(b, bh, bl);
	precise float p = q * b;
	precise float e = ((qh * bh - p) + qh * bl + ql * bh) + ql * bl;
	precise float r = (a - p) - e;
	precise float q2 = q + r / b;
	return q2;
}

// roundAway rounds half away from zero (C roundf, Go math.Round).
float roundAway(float x) {
	float a = abs(x);
	float r = floor(a);
	if (a - r >= 0.5) {
		r += 1.0;
	}
	return x < 0.0 ? -r : r;
}

// flatGroup numbers workgroups of a 2-D grid (x fastest), for element counts
// above the 65535-workgroup limit of one dimension.
uint flatGroup() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }

// tanhR is tanh(x) to a few ulps on every driver (GLSL's tanh may lose
// accuracy, or overflow to NaN, for large |x| on some): an odd Taylor
// polynomial near 0, where 1 - exp(-2|x|) would cancel, and
// (1 - e) / (1 + e) with e = exp(-2|x|) <= 1 elsewhere, which cannot overflow.
float tanhR(float x) {
	float a = abs(x);
	if (a < 0.125) {
		// x - x³/3 + 2x⁵/15 - 17x⁷/315 + 62x⁹/2835; the next term is below 1e-11 x.
		float x2 = x * x;
		precise float r = x * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0 + x2 * (62.0 / 2835.0)))));
		return r;
	}
	float e = exp(-2.0 * a);
	precise float t = (1.0 - e) / (1.0 + e);
	return x < 0.0 ? -t : t;
}

// geluTanh is 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³))), computed as
// backend/cpu (and ggml's CPU table) does: 0 below -10, x above 10, and in
// between gelu of the F16-rounded x, rounded to F16.
float geluTanh(float x) {
	if (x <= -10.0) {
		return 0.0;
	}
	if (x >= 10.0) {
		return x;
	}
	float h = roundF16(x);
	precise float u = 0.7978845608028654 * h * (1.0 + 0.044715 * h * h);
	precise float g = 0.5 * h * (1.0 + tanhR(u));
	return roundF16(g);
}
