// decode.glsl: reading weights of any type from the word buffer W, which the
// including shader declares, together with the specialization constant TYPE.
// Offsets are in bytes; rows of quantized types need not be 4-byte aligned.

uint wU8(uint off) { return (W[off >> 2] >> ((off & 3u) * 8u)) & 0xffu; }

// wU16 reads a 16-bit value at an even byte offset.
uint wU16(uint off) { return (W[off >> 2] >> ((off & 2u) * 8u)) & 0xffffu; }

uint wU32(uint off) {
	uint s = (off & 3u) * 8u;
	uint lo = W[off >> 2];
	return s == 0u ? lo : (lo >> s) | (W[(off >> 2) + 1u] << (32u - s));
}

float wF16(uint off) { return f16tof32(wU16(off)); }

// blockBytes is the size of one 32-value block (or of one value for float types).
uint blockBytes() {
	switch (TYPE) {
	case T_Q4_0: return 18u;
	case T_Q4_1: return 20u;
	case T_Q5_0: return 22u;
	case T_Q5_1: return 24u;
	case T_Q8_0: return 34u;
	case T_F32: return 4u;
	default: return 2u;
	}
}

// quant returns value j (0..31) of the block at byte offset off as its integer
// quant, already offset (q-8 for Q4_0, q-16 for Q5_0); scale and min are separate.
int quant(uint off, uint j) {
	uint lo = j & 15u;
	uint sh = j < 16u ? 0u : 4u;
	switch (TYPE) {
	case T_Q4_0: return int((wU8(off + 2u + lo) >> sh) & 15u) - 8;
	case T_Q4_1: return int((wU8(off + 4u + lo) >> sh) & 15u);
	case T_Q5_0: {
		uint qh = wU32(off + 2u);
		return int(((wU8(off + 6u + lo) >> sh) & 15u) | (((qh >> j) & 1u) << 4)) - 16;
	}
	case T_Q5_1: {
		uint qh = wU32(off + 4u);
		return int(((wU8(off + 8u + lo) >> sh) & 15u) | (((qh >> j) & 1u) << 4));
	}
	default: // Q8_0
		return int(wU8(off + 2u + j) << 24) >> 24;
	}
}

// loadQuants reads all 32 quants of the block at byte offset off, as quant
// does, with one 32-bit load per four bytes.
void loadQuants(uint off, out int q[32]) {
	if (TYPE == T_Q8_0) {
		for (uint i = 0u; i < 8u; i++) {
			int w = int(wU32(off + 2u + 4u * i));
			for (uint t = 0u; t < 4u; t++) {
				q[4u * i + t] = bitfieldExtract(w, int(8u * t), 8);
			}
		}
		return;
	}
	uint qsOff = TYPE == T_Q4_0 ? 2u : TYPE == T_Q4_1 ? 4u : TYPE == T_Q5_0 ? 6u : 8u;
	uint qh = TYPE == T_Q5_0 ? wU32(off + 2u) : TYPE == T_Q5_1 ? wU32(off + 4u) : 0u;
	int bias = TYPE == T_Q4_0 ? 8 : TYPE == T_Q5_0 ? 16 : 0;
	for (uint i = 0u; i < 4u; i++) {
		uint w = wU32(off + qsOff + 4u * i);
		for (uint t = 0u; t < 4u; t++) {
			uint j = 4u * i + t;
			uint b = w >> (8u * t);
			q[j] = int((b & 15u) | (((qh >> j) & 1u) << 4)) - bias;
			q[j + 16u] = int(((b >> 4) & 15u) | (((qh >> (j + 16u)) & 1u) << 4)) - bias;
		}
	}
}

bool hasMin() { return TYPE == T_Q4_1 || TYPE == T_Q5_1; }

bool isQuant() { return TYPE != T_F32 && TYPE != T_F16 && TYPE != T_BF16; }

// dequant is element e of the row at byte offset row, as the CPU's Dequantize computes it.
float dequant(uint row, uint e) {
	switch (TYPE) {
	case T_F32: return uintBitsToFloat(W[(row >> 2) + e]);
	case T_F16: return wF16(row + 2u * e);
	case T_BF16: return bf16tof32(wU16(row + 2u * e));
	default: {
		uint off = row + (e >> 5) * blockBytes();
		float d = wF16(off);
		precise float v = float(quant(off, e & 31u)) * d;
		if (hasMin()) {
			v = v + wF16(off + 2u);
		}
		return v;
	}
	}
}
