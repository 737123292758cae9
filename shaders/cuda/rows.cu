// rows.cu: row gathers and scatters. get_rows converts rows of a table
// (F32, F16, Q8_0, Q4_0) to F32; kv_write converts F32 rows into a cache
// (F32 or F16) at given rows.

enum { T_F32 = 0, T_F16 = 1, T_Q8_0 = 8, T_Q4_0 = 2 }; // gguf type numbers

__device__ __forceinline__ float tableValue(const u8 *row, int type, int c) {
	switch (type) {
	case T_F32: return ((const float *)row)[c];
	case T_F16: return h2f(((const u16 *)row)[c]);
	case T_Q8_0: {
		const u8 *b = row + (c / QK) * 34;
		return h2f(load16(b)) * (float)(i8)b[2 + c % QK];
	}
	case T_Q4_0: {
		const u8 *b = row + (c / QK) * 18;
		int j = c % QK;
		int q = j < 16 ? (b[2 + j] & 15) : (b[2 + j - 16] >> 4);
		return h2f(load16(b)) * (float)(q - 8);
	}
	}
	return __int_as_float(0x7fc00000);
}

// get_rows: dst row i = table row ids[i]; one block per row.
extern "C" __global__ void get_rows(float *dst, const u8 *table, i64 rowBytes, const int *ids, int cols, int type) {
	const u8 *row = table + (i64)ids[blockIdx.x] * rowBytes;
	float *d = dst + (i64)blockIdx.x * cols;
	for (int c = threadIdx.x; c < cols; c += blockDim.x) d[c] = tableValue(row, type, c);
}

// kv_write: cache row rows[i] = src row i, as F32 or F16; one block per row.
extern "C" __global__ void kv_write(u8 *cache, const float *src, const int *rows, int cols, int f16) {
	const float *s = src + (i64)blockIdx.x * cols;
	i64 r = rows[blockIdx.x];
	if (f16) {
		u16 *d = (u16 *)cache + r * cols;
		for (int c = threadIdx.x; c < cols; c += blockDim.x) d[c] = f2h(s[c]);
	} else {
		float *d = (float *)cache + r * cols;
		for (int c = threadIdx.x; c < cols; c += blockDim.x) d[c] = s[c];
	}
}
