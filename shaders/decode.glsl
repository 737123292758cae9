// decode.glsl: reading weights of any type from the word buffer W (and its
// 16-byte view W4), which the including shader declares, together with the
// specialization constants TYPE and PACKED. Offsets are in bytes; rows of
// quantized types need not be 4-byte aligned.
//
// PACKED 0: rows in ggml's layout (blocks of quants with their scales).
// PACKED 1 and 2, for the 32-value block types: each row repacked at upload
// into planes (backend/vulkan/pack.go): the blocks' quants (16 bytes a block,
// 32 for Q8_0, each block's bytes as in ggml), then Q5's high bits (4 bytes a
// block), the scales d (2 bytes, MXFP4's exponent 1), the mins m (2 bytes).
// PACKED 2: every row starts 16-byte aligned, so quants load as uvec4.

// The non-linear 4-bit types (numbered as gguf.Type, beside common.glsl's):
// their 4-bit indexes pick one of 16 levels (kernels/iq4_nl.go).
#define T_IQ4_NL 20u
#define T_IQ4_XS 23u
const int IQ4_LEVELS[16] = int[16](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
// MXFP4 (gpt-oss, kernels/mxfp4.go): an E8M0 exponent byte, then 16 bytes of
// E2M1 codes laid out as IQ4_NL's; the levels are held doubled (integers) and
// the scale halved, as ggml does.
#define T_MXFP4 39u
const int MXFP4_LEVELS[16] = int[16](0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);

uint wU8(uint off) { return (W[off >> 2] >> ((off & 3u) * 8u)) & 0xffu; }

// wU16 reads a 16-bit value at an even byte offset.
uint wU16(uint off) { return (W[off >> 2] >> ((off & 2u) * 8u)) & 0xffffu; }

uint wU32(uint off) {
	uint s = (off & 3u) * 8u;
	uint lo = W[off >> 2];
	return s == 0u ? lo : (lo >> s) | (W[(off >> 2) + 1u] << (32u - s));
}

float wF16(uint off) { return f16tof32(wU16(off)); }

// load16 reads the 16 bytes at off: one 128-bit load when rows are aligned.
uvec4 load16(uint off) {
	if (PACKED == 2u) {
		return W4[off >> 4];
	}
	return uvec4(wU32(off), wU32(off + 4u), wU32(off + 8u), wU32(off + 12u));
}

// e8m0 is MXFP4's halved E8M0 scale 2^(e-128).
float e8m0(uint e) { return uintBitsToFloat(e < 2u ? (0x00200000u << e) : ((e - 1u) << 23)); }

// blockScale is the scale d of the 32-value block at byte offset off: its
// F16 d, or MXFP4's halved E8M0 scale 2^(e-128).
float blockScale(uint off) {
	if (TYPE == T_MXFP4) {
		return e8m0(wU8(off));
	}
	return wF16(off);
}

// blockBytes is the size of one block (32 values, or 256 for the K-quants
// and IQ4_XS), or of one value for float types.
uint blockBytes() {
	switch (TYPE) {
	case T_Q2_K: return 84u;
	case T_Q3_K: return 110u;
	case T_Q4_K: return 144u;
	case T_Q5_K: return 176u;
	case T_Q6_K: return 210u;
	case T_Q4_0: return 18u;
	case T_Q4_1: return 20u;
	case T_Q5_0: return 22u;
	case T_Q5_1: return 24u;
	case T_Q8_0: return 34u;
	case T_IQ4_NL: return 18u;
	case T_IQ4_XS: return 136u;
	case T_MXFP4: return 17u;
	case T_F32: return 4u;
	default: return 2u;
	}
}

bool hasQh() { return TYPE == T_Q5_0 || TYPE == T_Q5_1; }

// unbias subtracts Q4_0's 8 (Q5_0's 16) from four unsigned 4-bit (5-bit)
// quants a byte: flipping the top bit and extending it as a sign gives
// int8(v - bias) in every byte, with no carry between bytes.
uint unbias(uint v) {
	if (TYPE == T_Q4_0) {
		uint t = v ^ 0x08080808u;
		return t | ((t & 0x08080808u) * 0x1eu);
	}
	if (TYPE == T_Q5_0) {
		uint t = v ^ 0x10101010u;
		return t | ((t & 0x10101010u) * 0x0fu);
	}
	return v;
}

// Plane offsets of a packed row at byte row with nb blocks.
uint qhPlane(uint row, uint nb) { return row + nb * (TYPE == T_Q8_0 ? 32u : 16u); }
uint dPlane(uint row, uint nb) { return qhPlane(row, nb) + (hasQh() ? 4u * nb : 0u); }
uint mPlane(uint row, uint nb) { return dPlane(row, nb) + 2u * nb; }

// spread4 moves bits 0..3 of h to bit 4 of bytes 0..3 (Q5's fifth bit).
uint spread4(uint h) {
	return ((h & 1u) | ((h & 2u) << 7) | ((h & 4u) << 14) | ((h & 8u) << 21)) << 4;
}

// levels4 maps four 4-bit indexes (one a byte) to IQ4_NL's or MXFP4's levels.
uint levels4(uint v) {
	uint r = 0u;
	for (uint t = 0u; t < 4u; t++) {
		uint i = (v >> (8u * t)) & 15u;
		int l = TYPE == T_MXFP4 ? MXFP4_LEVELS[i] : IQ4_LEVELS[i];
		r |= (uint(l) & 0xffu) << (8u * t);
	}
	return r;
}

// blockQuants reads block b of the row at byte row (nb blocks) as 8 words
// of 4 signed bytes, quant j in byte j%4 of word j/4: its integer quants
// (Q4_0's q-8, Q5_0's q-16; IQ4_NL's and MXFP4's levels).
void blockQuants(uint row, uint nb, uint b, out uint q[8]) {
	uint off = row + b * blockBytes();
	if (TYPE == T_Q8_0) {
		if (PACKED != 0u) {
			uvec4 a = load16(row + 32u * b), c = load16(row + 32u * b + 16u);
			q = uint[8](a.x, a.y, a.z, a.w, c.x, c.y, c.z, c.w);
		} else {
			for (uint i = 0u; i < 8u; i++) {
				q[i] = wU32(off + 2u + 4u * i);
			}
		}
		return;
	}
	uvec4 w;
	uint qh = 0u;
	if (PACKED != 0u) {
		w = load16(row + 16u * b);
		if (hasQh()) {
			qh = wU32(qhPlane(row, nb) + 4u * b);
		}
	} else {
		uint qs = TYPE == T_MXFP4 ? 1u : TYPE == T_Q4_1 ? 4u : TYPE == T_Q5_0 ? 6u : TYPE == T_Q5_1 ? 8u : 2u;
		w = uvec4(wU32(off + qs), wU32(off + qs + 4u), wU32(off + qs + 8u), wU32(off + qs + 12u));
		if (hasQh()) {
			qh = wU32(off + (TYPE == T_Q5_0 ? 2u : 4u));
		}
	}
	for (uint i = 0u; i < 4u; i++) {
		uint lo = w[i] & 0x0f0f0f0fu, hi = (w[i] >> 4) & 0x0f0f0f0fu;
		if (hasQh()) {
			lo |= spread4((qh >> (4u * i)) & 15u);
			hi |= spread4((qh >> (16u + 4u * i)) & 15u);
		}
		if (TYPE == T_IQ4_NL || TYPE == T_MXFP4) {
			lo = levels4(lo);
			hi = levels4(hi);
		}
		lo = unbias(lo);
		hi = unbias(hi);
		q[i] = lo;
		q[i + 4u] = hi;
	}
}

// blockD and blockM are block b's scale and (Q4_1, Q5_1) min.
float blockD(uint row, uint nb, uint b) {
	if (PACKED == 0u) {
		return blockScale(row + b * blockBytes());
	}
	if (TYPE == T_MXFP4) {
		return e8m0(wU8(dPlane(row, nb) + b));
	}
	return wF16(dPlane(row, nb) + 2u * b);
}

float blockM(uint row, uint nb, uint b) {
	if (PACKED == 0u) {
		return wF16(row + b * blockBytes() + 2u);
	}
	return wF16(mPlane(row, nb) + 2u * b);
}

// quant is value j (0..31) of block b as its integer quant; scale and min
// are separate.
int quant(uint row, uint nb, uint b, uint j) {
	uint q[8];
	blockQuants(row, nb, b, q);
	return bitfieldExtract(int(q[j >> 2]), int(8u * (j & 3u)), 8);
}

bool hasMin() { return TYPE == T_Q4_1 || TYPE == T_Q5_1; }

bool isQuant() { return TYPE != T_F32 && TYPE != T_F16 && TYPE != T_BF16; }

// The K-quants (Q2_K … Q6_K) and IQ4_XS: 256-value super-blocks (layouts as
// in kernels/q2_k.go … q6_k.go, iq4_xs.go), read here in 16 groups of 16
// values. A group has one integer scale and min (Q4_K, Q5_K and IQ4_XS share
// theirs between the two groups of a 32-value sub-block), and its quants are
// two bit fields of 16 consecutive bytes each (IQ4_XS: one field, an index
// into IQ4_LEVELS).
bool isK() { return (TYPE >= T_Q2_K && TYPE <= T_Q6_K) || TYPE == T_IQ4_XS; }

// kHasMin: value = d*s*q - dmin*m (Q2_K, Q4_K, Q5_K) rather than d*s*q.
bool kHasMin() { return TYPE == T_Q2_K || TYPE == T_Q4_K || TYPE == T_Q5_K; }

// A K block's quant fields are bytes [kQa, kQa+kQsz) of it; packed rows
// (PACKED != 0) hold every block's quant fields, then every block's other
// bytes (backend/vulkan/pack.go's kLayout).
uint kQa() { return TYPE == T_Q3_K || TYPE == T_Q6_K ? 0u : TYPE == T_IQ4_XS ? 8u : 16u; }
uint kQsz() {
	switch (TYPE) {
	case T_Q2_K: return 64u;
	case T_Q3_K: return 96u;
	case T_Q5_K: return 160u;
	case T_Q6_K: return 192u;
	default: return 128u;
	}
}

// kBases locates block b of the row at byte row (nb blocks): quant byte rel
// of the block (as ggml numbers them) is at qb + rel, its other byte rel at
// kMeta(mb, rel).
void kBases(uint row, uint nb, uint b, out uint qb, out uint mb) {
	if (PACKED == 0u) {
		qb = row + b * blockBytes();
		mb = qb;
		return;
	}
	qb = row + b * kQsz() - kQa(); // wraps below zero, as uint; qb + rel does not
	mb = row + nb * kQsz() + b * (blockBytes() - kQsz());
}

uint kMeta(uint mb, uint rel) { return mb + (PACKED != 0u && rel >= kQa() ? rel - kQsz() : rel); }

// KGroup locates group g's quants in a block: quant i is
//   ((byte[lo+i] >> ls) & lm) + (((byte[hi+i] >> hs) & hm) << hsh) - bias
// (hm = 0: no high bits).
struct KGroup {
	uint lo, ls, lm, hi, hs, hm, hsh;
	int bias;
};

KGroup kGroup(uint g) {
	// Value v = 16g + i: half h = v/128, quarter kq = v%128/32, lane v%32 = l0 + i.
	uint h = g >> 3u, kq = (g & 7u) >> 1u, l0 = 16u * (g & 1u);
	KGroup q;
	q.hi = 0u;
	q.hs = 0u;
	q.hm = 0u;
	q.hsh = 0u;
	q.bias = 0;
	switch (TYPE) {
	case T_Q2_K: // qs[64] at 16: bits 2kq of qs[32h + lane]
		q.lo = 16u + 32u * h + l0;
		q.ls = 2u * kq;
		q.lm = 3u;
		break;
	case T_Q3_K: // qs[64] at 32 as Q2_K's; hmask[32] at 0: bit v/32 of hmask[lane], clear = -4
		q.lo = 32u + 32u * h + l0;
		q.ls = 2u * kq;
		q.lm = 3u;
		q.hi = l0;
		q.hs = g >> 1u;
		q.hm = 1u;
		q.hsh = 2u;
		q.bias = 4;
		break;
	case T_Q4_K: // qs[128] at 16: nibble (v%64)/32 of qs[32(v/64) + lane]
		q.lo = 16u + 32u * (g >> 2u) + l0;
		q.ls = 4u * ((g & 3u) >> 1u);
		q.lm = 15u;
		break;
	case T_Q5_K: // qs[128] at 48 as Q4_K's; qh[32] at 16: bit v/32 of qh[lane] is 16
		q.lo = 48u + 32u * (g >> 2u) + l0;
		q.ls = 4u * ((g & 3u) >> 1u);
		q.lm = 15u;
		q.hi = 16u + l0;
		q.hs = g >> 1u;
		q.hm = 1u;
		q.hsh = 4u;
		break;
	case T_IQ4_XS: // qs[128] at 8: sub-block v/32 in 16 bytes, value v%32 = l0 + i
		// in nibble l0/16 of byte i
		q.lo = 8u + 16u * (g >> 1u);
		q.ls = 4u * (g & 1u);
		q.lm = 15u;
		break;
	default: // Q6_K: ql[128] at 0: nibble kq/2 of ql[64h + 32(kq%2) + lane];
		// qh[64] at 128: bits 2kq of qh[32h + lane] are bits 4..5; minus 32
		q.lo = 64u * h + 32u * (kq & 1u) + l0;
		q.ls = 4u * (kq >> 1u);
		q.lm = 15u;
		q.hi = 128u + 32u * h + l0;
		q.hs = 2u * kq;
		q.hm = 3u;
		q.hsh = 4u;
		q.bias = 32;
		break;
	}
	return q;
}

// kLevel is the quant a group's bit fields v stand for: v - bias, or for
// IQ4_XS the level v indexes.
int kLevel(KGroup q, uint v) { return TYPE == T_IQ4_XS ? IQ4_LEVELS[v] : int(v) - q.bias; }

// kQuant is quant i of group q of the block whose quant bytes are at qb.
int kQuant(uint qb, KGroup q, uint i) {
	uint v = (wU8(qb + q.lo + i) >> q.ls) & q.lm;
	if (q.hm != 0u) {
		v += ((wU8(qb + q.hi + i) >> q.hs) & q.hm) << q.hsh;
	}
	return kLevel(q, v);
}

// kGroupWords reads group q's 16 quants as 4 words of 4 signed bytes, quant
// i in byte i%4 of word i/4, before q.bias is subtracted (IQ4_XS: levels).
// The fields are masked a byte at a time: no carry crosses a byte.
void kGroupWords(uint qb, KGroup q, out uint w[4]) {
	uint lm = q.lm * 0x01010101u, hm = q.hm * 0x01010101u;
	uvec4 lw = load16(qb + q.lo), hw = q.hm != 0u ? load16(qb + q.hi) : uvec4(0u);
	for (uint i = 0u; i < 4u; i++) {
		uint v = (lw[i] >> q.ls) & lm;
		if (q.hm != 0u) {
			v += ((hw[i] >> q.hs) & hm) << q.hsh;
		}
		w[i] = TYPE == T_IQ4_XS ? levels4(v) : v;
	}
}

// kScaleMin is group g's integer scale and min (min 0 without kHasMin).
ivec2 kScaleMin(uint mb, uint g) {
	switch (TYPE) {
	case T_Q2_K: { // scales[16] at 0: low nibble scale, high nibble min
		uint b = wU8(kMeta(mb, g));
		return ivec2(int(b & 15u), int(b >> 4u));
	}
	case T_Q3_K: { // scales[12] at 96: 6-bit scales biased by 32
		uint lo = g < 8u ? wU8(kMeta(mb, 96u + g)) & 15u : wU8(kMeta(mb, 88u + g)) >> 4u;
		uint hi = (wU8(kMeta(mb, 104u + (g & 3u))) >> (2u * (g >> 2u))) & 3u;
		return ivec2(int(lo | (hi << 4u)) - 32, 0);
	}
	case T_Q4_K:
	case T_Q5_K: { // scales[12] at 4: 6-bit scale and min of sub-block g/2
		uint j = g >> 1u;
		if (j < 4u) {
			return ivec2(int(wU8(kMeta(mb, 4u + j)) & 63u), int(wU8(kMeta(mb, 8u + j)) & 63u));
		}
		uint b = wU8(kMeta(mb, 8u + j));
		return ivec2(int((b & 15u) | ((wU8(kMeta(mb, j)) >> 6u) << 4u)), int((b >> 4u) | ((wU8(kMeta(mb, 4u + j)) >> 6u) << 4u)));
	}
	case T_IQ4_XS: { // scales_h at 2, scales_l[4] at 4: sub-block j = g/2's 6-bit
		// scale (low nibble j%2 of scales_l[j/2], high bits 2j of scales_h), biased by 32
		uint j = g >> 1u;
		uint lo = (wU8(kMeta(mb, 4u + (j >> 1u))) >> (4u * (j & 1u))) & 15u;
		uint hi = (wU16(kMeta(mb, 2u)) >> (2u * j)) & 3u;
		return ivec2(int(lo | (hi << 4u)) - 32, 0);
	}
	default: // Q6_K: int8 scales[16] at 192
		return ivec2(int(wU8(kMeta(mb, 192u + g)) << 24u) >> 24u, 0);
	}
}

// kScales is the block's super-block scale d and, with kHasMin, dmin.
vec2 kScales(uint mb) {
	switch (TYPE) {
	case T_Q2_K: return vec2(wF16(kMeta(mb, 80u)), wF16(kMeta(mb, 82u)));
	case T_Q3_K: return vec2(wF16(kMeta(mb, 108u)), 0.0);
	case T_Q6_K: return vec2(wF16(kMeta(mb, 208u)), 0.0);
	case T_IQ4_XS: return vec2(wF16(kMeta(mb, 0u)), 0.0);
	default: return vec2(wF16(kMeta(mb, 0u)), wF16(kMeta(mb, 2u)));
	}
}

// dequantK is value v (0..255) of block b of the K row at byte row (nb
// blocks), as the CPU's Dequantize computes it: (d*s)*q, minus dmin*m.
float dequantK(uint row, uint nb, uint b, uint v) {
	uint qb, mb;
	kBases(row, nb, b, qb, mb);
	uint g = v >> 4u;
	int q = kQuant(qb, kGroup(g), v & 15u);
	ivec2 sm = kScaleMin(mb, g);
	vec2 dd = kScales(mb);
	precise float dl = dd.x * float(sm.x);
	precise float y = dl * float(q);
	if (kHasMin()) {
		precise float ml = dd.y * float(sm.y);
		y = y - ml;
	}
	return y;
}

// dequant is element e of the row at byte row (cols values), as the CPU's
// Dequantize computes it.
float dequant(uint row, uint cols, uint e) {
	switch (TYPE) {
	case T_F32: return uintBitsToFloat(W[(row >> 2) + e]);
	case T_F16: return wF16(row + 2u * e);
	case T_BF16: return bf16tof32(wU16(row + 2u * e));
	case T_Q2_K:
	case T_Q3_K:
	case T_Q4_K:
	case T_Q5_K:
	case T_Q6_K:
	case T_IQ4_XS: return dequantK(row, cols / 256u, e >> 8u, e & 255u);
	default: {
		uint nb = cols / 32u, b = e >> 5;
		float d = blockD(row, nb, b);
		precise float v = float(quant(row, nb, b, e & 31u)) * d;
		if (hasMin()) {
			v = v + blockM(row, nb, b);
		}
		return v;
	}
	}
}
