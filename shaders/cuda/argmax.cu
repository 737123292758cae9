// argmax.cu: the index of each row's largest value, the first on ties, NaN
// never chosen over a number; one block of 256 threads per row.

__device__ __forceinline__ bool better(float v, int i, float bv, int bi) {
	if (v != v) return false; // NaN
	if (bv != bv) return true;
	return v > bv || (v == bv && i < bi);
}

extern "C" __global__ void argmax(const float *x, int *out, int cols) {
	__shared__ float sv[256];
	__shared__ int si[256];
	const float *row = x + (i64)blockIdx.x * cols;
	float bv = __int_as_float(0x7fc00000);
	int bi = 0x7fffffff;
	for (int c = threadIdx.x; c < cols; c += blockDim.x)
		if (better(row[c], c, bv, bi)) bv = row[c], bi = c;
	sv[threadIdx.x] = bv;
	si[threadIdx.x] = bi;
	__syncthreads();
	for (int s = blockDim.x / 2; s > 0; s >>= 1) {
		if (threadIdx.x < s && better(sv[threadIdx.x + s], si[threadIdx.x + s], sv[threadIdx.x], si[threadIdx.x])) {
			sv[threadIdx.x] = sv[threadIdx.x + s];
			si[threadIdx.x] = si[threadIdx.x + s];
		}
		__syncthreads();
	}
	if (threadIdx.x == 0) out[blockIdx.x] = si[0] == 0x7fffffff ? 0 : si[0];
}
