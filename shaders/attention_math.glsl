// attention_math.glsl: flash attention's softmax arithmetic, line for line as
// kernels/attention_math.go computes it, so that the CPU and this shader give
// the same bits. Only float32 add, subtract and multiply are used (Vulkan
// rounds them correctly; every intermediate is precise, so none is fused or
// reassociated), with exact products by Dekker's splitting and integer bit
// manipulation: no fma(), exp(), tanh() or division, whose results drivers
// may round differently.

// twoSum: s = a+b rounded, e = a+b-s exactly (Knuth).
void twoSum(float a, float b, out float s, out float e) {
	precise float s0 = a + b;
	precise float bb = s0 - a;
	precise float e0 = (a - (s0 - bb)) + (b - bb);
	s = s0;
	e = e0;
}

// splitV: Veltkamp's splitting, a = hi + lo, each half the bits.
void splitV(float a, out float hi, out float lo) {
	precise float c = 4097.0 * a;
	precise float h = c - (c - a);
	precise float l = a - h;
	hi = h;
	lo = l;
}

// twoProd: p = a*b rounded, e = a*b-p exactly (Dekker).
void twoProd(float a, float b, out float p, out float e) {
	precise float p0 = a * b;
	float ah, al, bh, bl;
	splitV(a, ah, al);
	splitV(b, bh, bl);
	precise float e0 = ((ah * bh - p0) + ah * bl + al * bh) + al * bl;
	p = p0;
	e = e0;
}

// addRoundOdd: a+b rounded to odd.
float addRoundOdd(float a, float b) {
	float s, e;
	twoSum(a, b, s, e);
	uint bits = floatBitsToUint(s);
	if (e != 0.0 && (bits & 1u) == 0u) {
		if ((e > 0.0) == (s > 0.0)) {
			bits++;
		} else {
			bits--;
		}
	}
	return uintBitsToFloat(bits);
}

// fmaSplit: a*b+c rounded once (Boldo and Melquiond).
float fmaSplit(float a, float b, float c) {
	if (a == 0.0 || b == 0.0 || isinf(c) || isnan(c)) {
		precise float r = c + a * b;
		return r;
	}
	float ph, pl, th, tl;
	twoProd(a, b, ph, pl);
	twoSum(c, ph, th, tl);
	precise float r = th + addRoundOdd(tl, pl);
	return r;
}

// divRN: a/b correctly rounded. Division may be 2.5 ulps off, so the
// quotient's neighbours are tried: the exact remainder a - q*b (exact for q
// within a few ulps of a/b) is smallest for the nearest one, and a quotient
// of two floats is never halfway between two.
float divRN(float a, float b) {
	precise float q0 = a / b;
	if (isinf(q0) || isnan(q0) || q0 == 0.0) {
		return q0;
	}
	uint qb = floatBitsToUint(q0);
	float best = q0;
	float bestR = -1.0;
	for (int i = -3; i <= 3; i++) {
		float q = uintBitsToFloat(uint(int(qb) + i));
		float ph, pl;
		twoProd(q, b, ph, pl);
		precise float r = abs((a - ph) - pl);
		if (bestR < 0.0 || r < bestR) {
			best = q;
			bestR = r;
		}
	}
	return best;
}

// mulFF: float-float product.
void mulFF(float ah, float al, float bh, float bl, out float h, out float l) {
	float p, e;
	twoProd(ah, bh, p, e);
	precise float e1 = e + (ah * bl + al * bh);
	precise float h0 = p + e1;
	precise float l0 = e1 - (h0 - p);
	h = h0;
	l = l0;
}

// expBase[i] = 2^(2^i/64) as hi, lo (kernels.expBase).
const uint expBaseBits[12] = uint[12](
	0x3f8164d2u, 0xb1c43fd0u, 0x3f82cd87u, 0xb34ea7a9u, 0x3f85aac3u, 0x334f9891u,
	0x3f8b95c2u, 0xb260aba1u, 0x3f9837f0u, 0x33231b71u, 0x3fb504f3u, 0x32cfe77au);

// expEntry computes 2^(j/64) as hi, lo (kernels.expTable[j]).
void expEntry(uint j, out float h, out float l) {
	float th = 1.0, tl = 0.0;
	for (uint i = 0u; i < 6u; i++) {
		if (((j >> i) & 1u) != 0u) {
			mulFF(th, tl, uintBitsToFloat(expBaseBits[2u * i]), uintBitsToFloat(expBaseBits[2u * i + 1u]), th, tl);
		}
	}
	h = th;
	l = tl;
}

// EXP_TABLE_HI/LO(j) must be defined before this file is included: the 64
// expEntry values, built once per workgroup.

// The float32 constants of kernels.Exp32 and kernels.Tanh32, by their bits
// (GLSL has no hexadecimal float literals, and a decimal one might be
// rounded twice on its way to float32).
#define K_INV_L uintBitsToFloat(0x42b8aa3bu) // 64/ln2
#define K_L1 uintBitsToFloat(0x3c318000u)    // ln2/64 in four parts
#define K_L2 uintBitsToFloat(0xb65e8000u)
#define K_L3 uintBitsToFloat(0xae030000u)
#define K_L4 uintBitsToFloat(0x28e7bcd6u)
#define K_C120 uintBitsToFloat(0x3c088889u) // 1/120
#define K_C24 uintBitsToFloat(0x3d2aaaabu)  // 1/24
#define K_C6 uintBitsToFloat(0x3e2aaaabu)   // 1/6
#define K_T11 uintBitsToFloat(0xbc11371bu)  // -1382/155925
#define K_T9 uintBitsToFloat(0x3cb327a4u)   // 62/2835
#define K_T7 uintBitsToFloat(0x3d5d0dd1u)   // 17/315
#define K_T5 uintBitsToFloat(0x3e088889u)   // 2/15
#define K_T3 uintBitsToFloat(0x3eaaaaabu)   // 1/3
#define K_TINY uintBitsToFloat(0x21800000u) // 2^-60
#define K_2P127 uintBitsToFloat(0x7f000000u)

// exp32: e^x as kernels.Exp32.
float exp32(float x) {
	if (!(x >= -90.0)) {
		return isnan(x) ? x : 0.0;
	}
	if (x > 89.0) {
		return uintBitsToFloat(0x7f800000u);
	}
	precise float kx = x * K_INV_L;
	float k = roundEven(kx);
	precise float t1 = x - k * K_L1;
	precise float nk2 = -(k * K_L2);
	float a, e;
	twoSum(t1, nk2, a, e);
	precise float rl = (e - k * K_L3) - k * K_L4;
	float sq, sqe;
	twoProd(a, a, sq, sqe);
	precise float h = a * K_C120 + K_C24;
	h = a * h + K_C6;
	precise float small = (0.5 * sqe) + (sq * a) * h;
	small = small + (rl + a * rl);
	int ki = int(k);
	float th = EXP_TABLE_HI(uint(ki & 63)), tlo = EXP_TABLE_LO(uint(ki & 63));
	float ph, pl, qh, ql;
	twoProd(th, a, ph, pl);
	twoProd(th, 0.5 * sq, qh, ql);
	precise float c = ((pl + ql) + th * small) + (tlo + tlo * a);
	float s1, e1, s2, e2;
	twoSum(th, ph, s1, e1);
	twoSum(s1, qh, s2, e2);
	precise float y = s2 + ((e1 + e2) + c);
	int m = ki >> 6;
	if (m < -125) {
		return 0.0;
	}
	if (m > 127) {
		precise float big = (y * K_2P127) * 2.0;
		return big;
	}
	precise float r = y * uintBitsToFloat(uint(m + 127) << 23);
	return r;
}

// tanh32: tanh(x) as kernels.Tanh32.
float tanh32(float x) {
	float a = abs(x);
	if (a < 0.125) {
		precise float x2 = x * x;
		precise float p = x2 * K_T11 + K_T9;
		p = x2 * p - K_T7;
		p = x2 * p + K_T5;
		p = x2 * p - K_T3;
		precise float r = x + (x * x2) * p;
		return r;
	}
	float e = exp32(-2.0 * a);
	precise float num = 1.0 - e;
	precise float den = 1.0 + e;
	float t = divRN(num, den);
	return x < 0.0 ? -t : t;
}

// roundF16Fast is roundF16: in the F16 normal range the float32 rounds to 11
// significant bits, nearest even, by integer arithmetic on its bits
// (kernels.roundF16Bits); elsewhere the full conversion.
float roundF16Fast(float f) {
	float a = abs(f);
	if (a >= 6.103515625e-05 && a < 65504.0) { // 2^-14
		uint u = floatBitsToUint(f);
		return uintBitsToFloat((u + 0xfffu + ((u >> 13) & 1u)) & ~0x1fffu);
	}
	return roundF16(f);
}

// flashFMA: f16(fma(x, w, acc)) for F16 x and acc and 0 <= w <= 1, with
// wh, wl = splitV(w) (kernels.flashFMAShader): below 2^-60 the product
// cannot move the accumulator, and a zero one takes the sign of the sum;
// otherwise fmaSplit, where x, an F16 value, splits into itself and 0.
float flashFMA(float x, float w, float wh, float wl, float acc) {
	if (w < K_TINY) {
		if (acc != 0.0) {
			return acc;
		}
		bool xneg = (floatBitsToUint(x) >> 31) != 0u;
		bool aneg = (floatBitsToUint(acc) >> 31) != 0u;
		return (xneg && (x != 0.0 || aneg)) ? uintBitsToFloat(0x80000000u) : 0.0;
	}
	if (x == 0.0 || isinf(acc) || isnan(acc)) {
		precise float r = acc + x * w;
		return roundF16Fast(r);
	}
	precise float p = x * w;
	precise float e = (x * wh - p) + x * wl;
	float th, tl;
	twoSum(acc, p, th, tl);
	precise float r = th + addRoundOdd(tl, e);
	return roundF16Fast(r);
}
