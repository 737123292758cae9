// matmul.cu: dst = x · wᵀ for F32, F16, Q8_0 and Q4_0 weights (other types
// are expanded to F16 once by the backend). One warp computes one output
// column (a weight row) for NR rows of x, so a weight row is read once per
// NR activation rows: NR is 1 for decode and 8 for prefill, a tile of 8 x
// rows by 4 weight rows per block. Lane l takes blocks l, l+32, ... (or,
// for F16 and F32, values in the CPU's 64-lane order) and the warp sums its
// lanes' partials in a fixed butterfly, so every output's reduction order
// depends on k alone, never on NR or n.
//
// Quantized weights meet x quantized to Q8_0 (quantize_q8: int8 quants and
// one float scale per 32 values, the scale rounded to F16 as the CPU's Q8_0
// block stores it); each block's integer dot comes from dp4a, then one
// fused multiply-add of it with d_w*d_x, as the CPU computes it.

#define MV_WARPS 4

// quantize_q8 converts rows x (n*k values, k a multiple of 32) to qs and ds:
// one warp per block of 32 values.
extern "C" __global__ void quantize_q8(const float *x, i8 *qs, float *ds, int blocks) {
	int b = blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;
	if (b >= blocks) return;
	int lane = threadIdx.x % WARP;
	float v = x[(i64)b * QK + lane];
	float d = warpMax(fabsf(v)) / 127.0f;
	float id = d != 0.0f ? 1.0f / d : 0.0f;
	qs[(i64)b * QK + lane] = (i8)roundf(v * id);
	if (lane == 0) ds[b] = f16round(d);
}

// The weight formats: each gives lane-partial dot products for one weight
// row against one activation row.
// Quantized formats: lane l sums blocks l, l+32, ... (exact integer dots,
// each added with one fused multiply-add); the lanes go through warpSum.
struct Q4_0 {
	static const int bytes = 18;
	__device__ static float reduce(float a, float b) { return warpSum(a); }
	__device__ static float dot(const u8 *w, const int *xq, const float *xd, const float *x, int k, int lane, float &b) {
		float acc = 0.0f;
		for (int b = lane; b < k / QK; b += WARP) {
			const u8 *wb = w + (i64)b * bytes;
			const int *xb = xq + b * (QK / 4);
			int isum = 0, xsum = 0;
#pragma unroll
			for (int t = 0; t < 4; t++) {
				int q = load32of16(wb + 2 + 4 * t);
				int x0 = xb[t], x1 = xb[4 + t];
				isum = dp4a(q & 0x0F0F0F0F, x0, isum);
				isum = dp4a((q >> 4) & 0x0F0F0F0F, x1, isum);
				xsum = dp4a(0x01010101, x0, xsum);
				xsum = dp4a(0x01010101, x1, xsum);
			}
			isum -= 8 * xsum;
			acc = fmaf(h2f(load16(wb)) * xd[b], (float)isum, acc);
		}
		return acc;
	}
};

struct Q8_0 {
	static const int bytes = 34;
	__device__ static float reduce(float a, float b) { return warpSum(a); }
	__device__ static float dot(const u8 *w, const int *xq, const float *xd, const float *x, int k, int lane, float &b) {
		float acc = 0.0f;
		for (int b = lane; b < k / QK; b += WARP) {
			const u8 *wb = w + (i64)b * bytes;
			const int *xb = xq + b * (QK / 4);
			int isum = 0;
#pragma unroll
			for (int t = 0; t < 8; t++) isum = dp4a(load32of16(wb + 2 + 4 * t), xb[t], isum);
			acc = fmaf(h2f(load16(wb)) * xd[b], (float)isum, acc);
		}
		return acc;
	}
};

// Float formats sum as the CPU does (kernels' dotF16 and dotF32, ggml's
// AVX-512 order): 64 lanes, lane l taking values l, l+64, ... with one fused
// multiply-add each (warp lane l holds lanes l and l+32: a and b), then
// lanes64 adds them up.
__device__ __forceinline__ float lanes64(float a, float b) {
	// (l + l+16) + (l+32 + l+48), then halves 8, 4, 2 and 1 apart.
	float v = (a + __shfl_xor_sync(0xffffffffu, a, 16)) + (b + __shfl_xor_sync(0xffffffffu, b, 16));
	for (int o = 8; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

struct F16 {
	__device__ static float reduce(float a, float b) { return lanes64(a, b); }
	__device__ static float dot(const u8 *w, const int *xq, const float *xd, const float *x, int k, int lane, float &b) {
		const u16 *h = (const u16 *)w;
		float a = 0.0f;
		for (int i = lane; i < k; i += 64) {
			a = fmaf(h2f(h[i]), f16round(x[i]), a);
			if (i + 32 < k) b = fmaf(h2f(h[i + 32]), f16round(x[i + 32]), b);
		}
		return a;
	}
};

struct F32 {
	__device__ static float reduce(float a, float b) { return lanes64(a, b); }
	__device__ static float dot(const u8 *w, const int *xq, const float *xd, const float *x, int k, int lane, float &b) {
		const float *f = (const float *)w;
		float a = 0.0f;
		for (int i = lane; i < k; i += 64) {
			a = fmaf(f[i], x[i], a);
			if (i + 32 < k) b = fmaf(f[i + 32], x[i + 32], b);
		}
		return a;
	}
};

// matvec computes dst[r][j] for weight row j = this warp's and NR rows r of
// x from blockIdx.y*NR. x is either floats (x) or Q8_0 (xq, xd; 32 int8 and
// one scale per block). With ids (MatMulID, NR 1), dst row r uses expert
// ids[r]'s weight rows (rows ids[r]*m ...) and x row r / xdiv.
template <class W, int NR>
__device__ void matvec(const u8 *w, i64 wstride, const float *x, const i8 *xq, const float *xd, float *dst,
	int n, int m, int k, const int *ids, int xdiv) {
	int lane = threadIdx.x % WARP;
	int j = blockIdx.x * MV_WARPS + threadIdx.x / WARP;
	if (j >= m) return;
	int r0 = blockIdx.y * NR;
	int nb = k / QK;
	float acc[NR], acc2[NR];
#pragma unroll
	for (int r = 0; r < NR; r++) {
		acc[r] = acc2[r] = 0.0f;
		int row = r0 + r;
		if (row < n) {
			i64 wrow = j;
			int xrow = row;
			if (ids) {
				wrow += (i64)ids[row] * m;
				xrow = row / xdiv;
			}
			acc[r] = W::dot(w + wrow * wstride, (const int *)(xq + (i64)xrow * nb * QK), xd + (i64)xrow * nb,
				x + (i64)xrow * k, k, lane, acc2[r]);
		}
	}
#pragma unroll
	for (int r = 0; r < NR; r++) {
		float s = W::reduce(acc[r], acc2[r]);
		if (lane == 0 && r0 + r < n) dst[(i64)(r0 + r) * m + j] = s;
	}
}

#define MATVEC(name, W, NR)                                                                                \
	extern "C" __global__ void __launch_bounds__(MV_WARPS * WARP) name(const u8 *w, i64 wstride,    \
		const float *x, const i8 *xq, const float *xd, float *dst, int n, int m, int k, const int *ids, \
		int xdiv) {                                                                                    \
		matvec<W, NR>(w, wstride, x, xq, xd, dst, n, m, k, ids, xdiv);                                 \
	}

MATVEC(matvec_f32, F32, 1)
MATVEC(matvec_f32_x8, F32, 8)
MATVEC(matvec_f16, F16, 1)
MATVEC(matvec_f16_x8, F16, 8)
MATVEC(matvec_q8_0, Q8_0, 1)
MATVEC(matvec_q8_0_x8, Q8_0, 8)
MATVEC(matvec_q4_0, Q4_0, 1)
MATVEC(matvec_q4_0_x8, Q4_0, 8)
