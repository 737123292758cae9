// rope.glsl: the rotation of one pair of a head's values, shared by
// rope.comp (in place) and rope_kv.comp (in place and into the KV cache).
// The includer declares X (the values), pos, F (the frequency factors) and
// the push constants p with rope.comp's fields first.

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

// ropePair rotates pair id (row, head h, pair i < dims/2) of X: it returns
// false past the end, else the indices a and b (within the row) and the
// rotated values, already stored in X.
bool ropePair(uint id, out uint row, out uint h, out uint a, out uint b, out float y0, out float y1) {
	uint half_ = p.dims / 2u;
	uint heads = p.cols / p.headDim;
	if (id >= p.rows * heads * half_) {
		return false;
	}
	uint i = id % half_;
	h = (id / half_) % heads;
	row = id / (half_ * heads);
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
	a = h * p.headDim + (p.mode == 1u ? i : 2u * i);
	b = h * p.headDim + (p.mode == 1u ? i + half_ : 2u * i + 1u);
	float x0 = X[p.xOff + row * p.cols + a], x1 = X[p.xOff + row * p.cols + b];
	precise float r0 = x0 * c - x1 * s;
	precise float r1 = x0 * s + x1 * c;
	X[p.xOff + row * p.cols + a] = r0;
	X[p.xOff + row * p.cols + b] = r1;
	y0 = r0;
	y1 = r1;
	return true;
}
