// attention.cu: causal attention over a KV cache, flash style: one block of
// ATT_WARPS warps per (query row, head); each warp takes every ATT_WARPS-th
// key with an online softmax (running max, sum and weighted V in registers,
// lane l holding dimensions l, l+32, ...), then the warps' partial results
// are merged. Scores never go to memory, whatever the context length.

#define ATT_WARPS 4
#define ATT_MAX_DIM 256

__device__ __forceinline__ float cacheValue(const u8 *c, i64 idx, int f16) {
	return f16 ? h2f(((const u16 *)c)[idx]) : ((const float *)c)[idx];
}

extern "C" __global__ void __launch_bounds__(ATT_WARPS * WARP) attention(float *dst, const float *q, const u8 *kc,
	const u8 *vc, const int *pos, const int *seq, const float *sinks, int heads, int kvHeads, int headDim, int context,
	float scale, float softCap, int window, int f16) {
	__shared__ float sm[ATT_WARPS], sl[ATT_WARPS];
	__shared__ float sacc[ATT_WARPS][ATT_MAX_DIM];
	const int per = ATT_MAX_DIM / WARP;
	int row = blockIdx.x / heads, h = blockIdx.x % heads;
	int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
	int kvh = h / (heads / kvHeads);
	int p = pos[row];
	int lo = window > 0 ? max(0, p - window + 1) : 0;
	i64 kvWidth = (i64)kvHeads * headDim;
	i64 base = (i64)seq[row] * context;
	const float *qh = q + (i64)row * heads * headDim + (i64)h * headDim;
	float qv[per], acc[per];
#pragma unroll
	for (int t = 0; t < per; t++) {
		int d = lane + WARP * t;
		qv[t] = d < headDim ? qh[d] : 0.0f;
		acc[t] = 0.0f;
	}
	float m = NEG_INF, l = 0.0f;
	for (int j = lo + warp; j <= p; j += ATT_WARPS) {
		i64 off = (base + j) * kvWidth + (i64)kvh * headDim;
		float s = 0.0f;
#pragma unroll
		for (int t = 0; t < per; t++) {
			int d = lane + WARP * t;
			if (d < headDim) s = fmaf(qv[t], cacheValue(kc, off + d, f16), s);
		}
		s = warpSum(s) * scale;
		if (softCap > 0.0f) s = softCap * tanhf(s / softCap);
		float mNew = fmaxf(m, s);
		float old = expf(m - mNew), w = expf(s - mNew);
		l = l * old + w;
#pragma unroll
		for (int t = 0; t < per; t++) {
			int d = lane + WARP * t;
			float v = d < headDim ? cacheValue(vc, off + d, f16) : 0.0f;
			acc[t] = fmaf(w, v, acc[t] * old);
		}
		m = mNew;
	}
	if (lane == 0) {
		sm[warp] = m;
		sl[warp] = l;
	}
#pragma unroll
	for (int t = 0; t < per; t++) sacc[warp][lane + WARP * t] = acc[t];
	__syncthreads();
	if (warp != 0) return;
	float M = sinks ? sinks[h] : NEG_INF;
	for (int w = 0; w < ATT_WARPS; w++) M = fmaxf(M, sm[w]);
	float L = sinks ? expf(sinks[h] - M) : 0.0f;
	float f[ATT_WARPS];
	for (int w = 0; w < ATT_WARPS; w++) {
		f[w] = sl[w] > 0.0f ? expf(sm[w] - M) : 0.0f;
		L += sl[w] * f[w];
	}
	float *out = dst + (i64)row * heads * headDim + (i64)h * headDim;
	for (int d = lane; d < headDim; d += WARP) {
		float o = 0.0f;
		for (int w = 0; w < ATT_WARPS; w++) o += sacc[w][d] * f[w];
		out[d] = o / L;
	}
}
