// elementwise.cu: one kernel for the elementwise ops, the op chosen by a
// parameter (the ops are memory-bound: a switch costs nothing).

enum {
	EW_ADD = 0,        // a + b
	EW_ADD_ROW = 1,    // a + b[i % cols]
	EW_SCALE = 2,      // a * s
	EW_SWIGLU = 3,     // silu(a) * b
	EW_GELU = 4,       // gelu(a), tanh form
	EW_GEGLU = 5,      // gelu(a) * b
	EW_SOFTCAP = 6,    // s * tanh(a / s)
	EW_SWIGLU_OAI = 7, // gpt-oss: a clamped above by t, b to [-t, t]; a*sigmoid(s a) * (b + 1)
	EW_MUL = 8,        // a * b
};

// gelu is the tanh form as the CPU computes it (ggml's table over halves):
// 0 below -10, x above 10, else gelu of x rounded to F16, rounded to F16.
__device__ __forceinline__ float gelu(float x) {
	if (x <= -10.0f) return 0.0f;
	if (x >= 10.0f) return x;
	const float c = 0.7978845608028654f; // sqrt(2/pi)
	float h = f16round(x);
	return f16round(0.5f * h * (1.0f + tanhf(c * h * (1.0f + 0.044715f * h * h))));
}

extern "C" __global__ void elementwise(float *dst, const float *a, const float *b, i64 n, int cols, int op, float s, float t) {
	for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
		float x = a[i], r;
		switch (op) {
		case EW_ADD: r = x + b[i]; break;
		case EW_ADD_ROW: r = x + b[i % cols]; break;
		case EW_SCALE: r = x * s; break;
		case EW_SWIGLU: r = x / (1.0f + expf(-x)) * b[i]; break;
		case EW_GELU: r = gelu(x); break;
		case EW_GEGLU: r = gelu(x) * b[i]; break;
		case EW_SOFTCAP: r = s * tanhf(x / s); break;
		case EW_SWIGLU_OAI: {
			float g = fminf(x, t), u = fminf(fmaxf(b[i], -t), t);
			r = g / (1.0f + expf(-s * g)) * (u + 1.0f);
			break;
		}
		case EW_MUL: r = x * b[i]; break;
		default: r = __int_as_float(0x7fc00000); // NaN: an unknown op shows
		}
		dst[i] = r;
	}
}

// moe_sum: dst row i = sum over j of weights[i][j] * x row i*used+j, in order.
extern "C" __global__ void moe_sum(float *dst, const float *x, const float *weights, int n, int used, int d) {
	i64 idx = (i64)blockIdx.x * blockDim.x + threadIdx.x;
	if (idx >= (i64)n * d) return;
	int i = (int)(idx / d), c = (int)(idx % d);
	float acc = 0.0f;
	for (int j = 0; j < used; j++) acc = fmaf(weights[i * used + j], x[((i64)i * used + j) * d + c], acc);
	dst[idx] = acc;
}
