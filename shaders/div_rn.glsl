// div_rn.glsl: correctly rounded float32 division, for quantizers that must
// give the CPU's scales bit for bit (kv_write.comp). Exact products by
// Dekker's splitting; every intermediate is precise, so none is fused.

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
