// norm.cu: RMSNorm and LayerNorm, one block per row (at most 256 threads).
// As the CPU computes them: float32 squares (or values) summed in float64,
// the mean rounded to float32, the scale 1/float32(sqrt(float64(...))). A
// float64 sum of float32 values loses nothing unless they span more than
// about 29 binary orders of magnitude, so the order of the block's sum
// hardly ever matters and the outputs are the CPU's bits.

// blockSumD sums v over the block in float64 through scratch (blockDim.x
// values, a power of two); every thread gets the sum.
__device__ double blockSumD(double v, double *scratch) {
	__syncthreads(); // a previous sum has been read
	scratch[threadIdx.x] = v;
	__syncthreads();
	for (int s = blockDim.x / 2; s > 0; s >>= 1) {
		if (threadIdx.x < s) scratch[threadIdx.x] += scratch[threadIdx.x + s];
		__syncthreads();
	}
	return scratch[0];
}

// rms_norm: dst = x / sqrt(mean(x²) + eps) * w.
extern "C" __global__ void rms_norm(const float *x, const float *w, float *dst, int cols, float eps) {
	__shared__ double scratch[256];
	const float *xr = x + (i64)blockIdx.x * cols;
	float *dr = dst + (i64)blockIdx.x * cols;
	double ss = 0.0;
	for (int i = threadIdx.x; i < cols; i += blockDim.x) ss += (double)(xr[i] * xr[i]);
	float mean = (float)(blockSumD(ss, scratch) / (double)cols);
	float scale = 1.0f / (float)sqrt((double)(mean + eps));
	for (int i = threadIdx.x; i < cols; i += blockDim.x) dr[i] = xr[i] * scale * w[i];
}

// layer_norm: dst = (x - mean) / sqrt(var + eps) * w + b.
extern "C" __global__ void layer_norm(const float *x, const float *w, const float *b, float *dst, int cols, float eps) {
	__shared__ double scratch[256];
	const float *xr = x + (i64)blockIdx.x * cols;
	float *dr = dst + (i64)blockIdx.x * cols;
	double s = 0.0;
	for (int i = threadIdx.x; i < cols; i += blockDim.x) s += (double)xr[i];
	float mean = (float)(blockSumD(s, scratch) / (double)cols);
	double v = 0.0;
	for (int i = threadIdx.x; i < cols; i += blockDim.x) {
		float d = xr[i] - mean;
		v += (double)(d * d);
	}
	float var = (float)(blockSumD(v, scratch) / (double)cols);
	float scale = 1.0f / (float)sqrt((double)(var + eps));
	for (int i = threadIdx.x; i < cols; i += blockDim.x) dr[i] = (xr[i] - mean) * scale * w[i] + b[i];
}
