// quant_block.glsl: one block of activations to int8 with a scale, as the
// CPU converts a matmul's x to its weight's dot type. The includer defines
// Q (the output words) and float qx(uint row, uint col), the value quantized;
// quantize.comp reads it from memory, rms_norm.comp computes it (fused).
//   mode 0 (Q8_0 activations): id = 127/amax, q = roundEven(x*id), d = f16(amax/127)
//   mode 1 (Q8_1): d = amax/127, q = roundAway(x/d), s = f16(d*sum q), d stored as f16
//   mode 2 (Q8_K): see quantBlockK
// Output layout (words): qs at qsOff + blk*8 (4 quants a word), d at dOff + blk,
// s at sOff + blk.

void quantBlock32(uint mode, uint row, uint col0, uint blk, uint qsOff, uint dOff, uint sOff) {
	float amax = 0.0;
	for (uint j = 0u; j < 32u; j++) {
		amax = max(amax, abs(qx(row, col0 + j)));
	}
	float d, id;
	if (mode == 0u) {
		id = amax != 0.0 ? divCR(127.0, amax) : 0.0;
		d = divCR(amax, 127.0);
	} else {
		d = divCR(amax, 127.0);
		id = d != 0.0 ? divCR(1.0, d) : 0.0;
	}
	int sum = 0;
	for (uint w = 0u; w < 8u; w++) {
		uint word = 0u;
		for (uint t = 0u; t < 4u; t++) {
			precise float v = qx(row, col0 + 4u * w + t) * id;
			int q = int(mode == 0u ? roundEven(v) : roundAway(v));
			sum += q;
			word |= (uint(q) & 0xffu) << (8u * t);
		}
		Q[qsOff + blk * 8u + w] = word;
	}
	precise float s = float(sum) * d;
	Q[dOff + blk] = floatBitsToUint(roundF16(d));
	Q[sOff + blk] = floatBitsToUint(roundF16(s));
}

// quantBlockK (Q8_K, as kernels.quantizeQ8_K): per 256 values, with max the
// first value of largest magnitude, iscale = -127/max,
// q = min(127, roundEven(iscale*x)), d = 1/iscale (f32), and the 16 sums of
// 16 quants. An all-zero block is all zero. Layout (words): qs at
// qsOff + blk*64, d at dOff + blk, the sums (int32) at sOff + blk*16.
void quantBlockK(uint row, uint col0, uint blk, uint qsOff, uint dOff, uint sOff) {
	float amax = 0.0, maxv = 0.0;
	for (uint j = 0u; j < 256u; j++) {
		float v = qx(row, col0 + j);
		if (abs(v) > amax) {
			amax = abs(v);
			maxv = v;
		}
	}
	float iscale = amax != 0.0 ? divCR(-127.0, maxv) : 0.0;
	for (uint g = 0u; g < 16u; g++) {
		int sum = 0;
		for (uint w = 0u; w < 4u; w++) {
			uint word = 0u;
			for (uint t = 0u; t < 4u; t++) {
				precise float v = iscale * qx(row, col0 + 16u * g + 4u * w + t);
				int q = min(127, int(roundEven(v)));
				sum += q;
				word |= (uint(q) & 0xffu) << (8u * t);
			}
			Q[qsOff + blk * 64u + 4u * g + w] = word;
		}
		Q[sOff + blk * 16u + g] = uint(sum);
	}
	Q[dOff + blk] = floatBitsToUint(amax != 0.0 ? divCR(1.0, iscale) : 0.0);
}
