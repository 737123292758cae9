// rope.cu: rotary position embedding in place, one thread per rotated pair
// of one head of one row (see backend.RoPE for the parameters).

extern "C" __global__ void rope(float *x, const int *pos, const float *factors, int rows, int cols, int headDim,
	int dims, int neox, float thetaScale, float freqScale, float extFactor, float corr0, float corr1, float mscale) {
	int half = dims / 2, heads = cols / headDim;
	i64 id = (i64)blockIdx.x * blockDim.x + threadIdx.x;
	if (id >= (i64)rows * heads * half) return;
	int i = (int)(id % half);
	int h = (int)(id / half % heads);
	int r = (int)(id / half / heads);
	// theta_i = pos * thetaScale^i as the CPU's running product rounds it
	// (thetaScale = base^(-2/dims), from the host): one multiply per pair.
	float t = (float)pos[r];
	for (int j = 0; j < i; j++) t *= thetaScale;
	if (factors) t /= factors[i];
	float c, s;
	if (extFactor != 0.0f) {
		float y = ((float)i - corr0) / fmaxf(0.001f, corr1 - corr0);
		float mix = (1.0f - fminf(1.0f, fmaxf(0.0f, y))) * extFactor;
		t = freqScale * t * (1.0f - mix) + t * mix;
		c = (float)cos((double)t) * mscale;
		s = (float)sin((double)t) * mscale;
	} else {
		t *= freqScale;
		// In float64, rounded, as the CPU takes them (so nearly always its bits).
		c = (float)cos((double)t);
		s = (float)sin((double)t);
	}
	float *head = x + (i64)r * cols + (i64)h * headDim;
	int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
	float x0 = head[a], x1 = head[b];
	head[a] = fmaf(x0, c, -(x1 * s));
	head[b] = fmaf(x0, s, x1 * c);
}
