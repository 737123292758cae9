// attention.cu: causal attention over a KV cache, flash style: one block of
// ATT_WARPS warps per (query row, head). Over an F32 cache each warp takes
// every ATT_WARPS-th key with an online softmax (running max, sum and
// weighted V in registers, lane l holding dimensions l, l+32, ...), then the
// warps' partial results are merged. Over an F16 cache the arithmetic is the
// CPU's (attendF16). Scores never go to global memory, whatever the context.

#define ATT_WARPS 4
#define ATT_THREADS (ATT_WARPS * WARP)
#define ATT_MAX_DIM 256

// scoreF16 is q·k for F16 q and k, in the CPU's order (kernels.AttnScoresF16,
// ggml_vec_dot_f16's on AVX-512): the products, exact in float32, of each
// 64-value chunk go to 64 lanes, chunk after chunk; the lanes are summed as
// (l + l+32) + (l+16 + l+48), then halves 8 and 4 apart, then (0+2) + (1+3);
// the values past the last whole chunk are added in float-float (twoSum)
// and rounded once.
__device__ float scoreF16(const float *q, const u16 *k, int headDim) {
	int whole = headDim & ~63;
	float sum = 0.0f;
	if (whole > 0) {
		float lanes[64];
		for (int l = 0; l < 64; l++) lanes[l] = q[l] * h2f(k[l]);
		for (int c = 64; c < whole; c += 64)
			for (int l = 0; l < 64; l++) lanes[l] += q[c + l] * h2f(k[c + l]);
		float v[16];
		for (int l = 0; l < 16; l++) v[l] = (lanes[l] + lanes[32 + l]) + (lanes[16 + l] + lanes[48 + l]);
		for (int l = 0; l < 8; l++) v[l] += v[l + 8];
		for (int l = 0; l < 4; l++) v[l] += v[l + 4];
		sum = (v[0] + v[2]) + (v[1] + v[3]);
	}
	float lo = 0.0f;
	for (int d = whole; d < headDim; d++) {
		float p = q[d] * h2f(k[d]), s = sum + p, bb = s - sum;
		lo += (sum - (s - bb)) + (p - bb);
		sum = s;
	}
	return sum + lo;
}

// attendF16 is attention over an F16 cache as the CPU computes it
// (kernels.AttnFlashF16, llama.cpp's CPU flash attention): q rounded to F16,
// then key by key in order an online softmax whose accumulator is F16,
// rounded after every key: a new maximum scales it (and the sum) by
// e^(old-new), any other key joins with weight e^(s-max). Keys go in tiles
// of ATT_THREADS: thread t scores key t of the tile and finds its factors
// from the running maximum before it; then every thread walks the tile's
// keys in order for its own dimensions (t, t+ATT_THREADS). Rounding the
// accumulator as the CPU does matters: summed in float32 instead, the
// outputs differ by up to 5e-3, and a model whose activations are then
// quantized to Q8_0 (stories260K-q8_0) moves its logits by 0.16.
__device__ void attendF16(float *out, const float *qh, const u16 *k, const u16 *v, i64 kvWidth, int lo, int p,
	int headDim, float scale, float softCap, const float *sink) {
	__shared__ float sq[ATT_MAX_DIM];
	__shared__ float ss[ATT_THREADS], sms[ATT_THREADS], svs[ATT_THREADS];
	const int per = ATT_MAX_DIM / ATT_THREADS;
	int tid = threadIdx.x;
	for (int d = tid; d < headDim; d += ATT_THREADS) sq[d] = f16round(qh[d]);
	float capScale = softCap > 0.0f ? scale / softCap : scale;
	float m = NEG_INF, sum = 0.0f, acc[per];
#pragma unroll
	for (int r = 0; r < per; r++) acc[r] = 0.0f;
	for (int t0 = lo; t0 <= p; t0 += ATT_THREADS) {
		int nk = min(ATT_THREADS, p + 1 - t0);
		__syncthreads(); // sq written; the last tile's factors all read
		if (tid < nk) {
			float s = scoreF16(sq, k + (i64)(t0 + tid) * kvWidth, headDim) * capScale;
			if (softCap > 0.0f) s = softCap * tanhf(s);
			ss[tid] = s;
		}
		__syncthreads();
		if (tid < nk) {
			float mp = m, s = ss[tid], ms = 1.0f, vs = 1.0f;
			for (int j = 0; j < tid; j++) mp = fmaxf(mp, ss[j]);
			if (s > mp) ms = expf(mp - s); // 0 for the first key: e^-inf
			else vs = expf(s - mp);
			sms[tid] = ms;
			svs[tid] = vs;
		}
		__syncthreads();
		for (int j = 0; j < nk; j++) {
			float ms = sms[j], vs = svs[j];
			m = fmaxf(m, ss[j]);
			sum = sum * ms + vs;
			const u16 *vr = v + (i64)(t0 + j) * kvWidth;
#pragma unroll
			for (int r = 0; r < per; r++) {
				int d = tid + ATT_THREADS * r;
				if (d < headDim) {
					if (ms != 1.0f) acc[r] = f16round(acc[r] * ms);
					acc[r] = f16round(fmaf(h2f(vr[d]), vs, acc[r]));
				}
			}
		}
	}
	// A sink joins after the last key, the accumulator now float32 (as the CPU does).
	float f = 1.0f;
	if (sink) {
		if (*sink > m) {
			f = expf(m - *sink);
			sum = sum * f + 1.0f;
		} else {
			sum += expf(*sink - m);
		}
	}
	float inv = sum != 0.0f ? 1.0f / sum : 0.0f;
#pragma unroll
	for (int r = 0; r < per; r++) {
		int d = tid + ATT_THREADS * r;
		if (d < headDim) out[d] = acc[r] * f * inv;
	}
}

extern "C" __global__ void __launch_bounds__(ATT_THREADS) attention(float *dst, const float *q, const u8 *kc,
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
	if (f16) {
		i64 first = (base + lo) * kvWidth + (i64)kvh * headDim;
		attendF16(dst + (i64)row * heads * headDim + (i64)h * headDim, qh, (const u16 *)kc + first, (const u16 *)vc + first,
			kvWidth, 0, p - lo, headDim, scale, softCap, sinks ? sinks + h : 0);
		return;
	}
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
			if (d < headDim) s = fmaf(qv[t], ((const float *)kc)[off + d], s);
		}
		s = warpSum(s) * scale;
		if (softCap > 0.0f) s = softCap * tanhf(s / softCap);
		float mNew = fmaxf(m, s);
		float old = expf(m - mNew), w = expf(s - mNew);
		l = l * old + w;
#pragma unroll
		for (int t = 0; t < per; t++) {
			int d = lane + WARP * t;
			float v = d < headDim ? ((const float *)vc)[off + d] : 0.0f;
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
