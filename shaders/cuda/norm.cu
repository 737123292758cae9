// norm.cu: RMSNorm and LayerNorm, one block per row.

// rms_norm: dst = x / sqrt(mean(x²) + eps) * w.
extern "C" __global__ void rms_norm(const float *x, const float *w, float *dst, int cols, float eps) {
	__shared__ float scratch[32];
	const float *xr = x + (i64)blockIdx.x * cols;
	float *dr = dst + (i64)blockIdx.x * cols;
	float ss = 0.0f;
	for (int i = threadIdx.x; i < cols; i += blockDim.x) ss = fmaf(xr[i], xr[i], ss);
	ss = blockSum(ss, scratch);
	float scale = 1.0f / sqrtf(ss / (float)cols + eps);
	for (int i = threadIdx.x; i < cols; i += blockDim.x) dr[i] = xr[i] * scale * w[i];
}

// layer_norm: dst = (x - mean) / sqrt(var + eps) * w + b.
extern "C" __global__ void layer_norm(const float *x, const float *w, const float *b, float *dst, int cols, float eps) {
	__shared__ float scratch[32];
	const float *xr = x + (i64)blockIdx.x * cols;
	float *dr = dst + (i64)blockIdx.x * cols;
	float s = 0.0f;
	for (int i = threadIdx.x; i < cols; i += blockDim.x) s += xr[i];
	float mean = blockSum(s, scratch) / (float)cols;
	float v = 0.0f;
	for (int i = threadIdx.x; i < cols; i += blockDim.x) {
		float d = xr[i] - mean;
		v = fmaf(d, d, v);
	}
	float scale = 1.0f / sqrtf(blockSum(v, scratch) / (float)cols + eps);
	for (int i = threadIdx.x; i < cols; i += blockDim.x) dr[i] = (xr[i] - mean) * scale * w[i] + b[i];
}
