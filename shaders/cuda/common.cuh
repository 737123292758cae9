// common.cuh: prepended to every kernel source before NVRTC compiles it
// (NVRTC has no include path here). No CUDA header is used: half precision
// goes through PTX conversions, dp4a through its PTX instruction, so any
// NVRTC from 11.2 on compiles these files as they are.
typedef unsigned char u8;
typedef signed char i8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef long long i64;

#define WARP 32
#define QK 32 // values per Q8_0/Q4_0 block

#ifdef CONVEYOR_CUDA_EMU
// The emulator (cgo/cuda/emu) compiles these files as host C++: the same
// conversions in plain arithmetic, rounding to nearest even as cvt.rn does.
__device__ __forceinline__ float h2f(u16 h) {
	u32 sign = (u32)(h & 0x8000) << 16, e = h >> 10 & 31, m = h & 0x3ff;
	if (e == 31) return __int_as_float(sign | 0x7f800000 | m << 13); // Inf, NaN
	if (e) return __int_as_float(sign | (e + 112) << 23 | m << 13);
	return __int_as_float(sign | __float_as_int((float)m * 5.9604644775390625e-8f)); // m * 2^-24
}

__device__ __forceinline__ u16 f2h(float f) {
	u32 x = __float_as_int(f), sign = x >> 16 & 0x8000, a = x & 0x7fffffff;
	if (a > 0x7f800000) return sign | 0x7e00 | (a >> 13 & 0x3ff); // NaN, quiet
	if (a >= 0x477ff000) return sign | 0x7c00;                     // 65520 and up: Inf
	if (a >= 0x38800000) {                                         // a normal half
		u32 r = a - 0x38000000;                                    // rebias the exponent
		return sign | (r + 0xfff + (r >> 13 & 1)) >> 13;
	}
	return sign | (u16)rintf(__int_as_float(a) * 16777216.0f); // a subnormal: units of 2^-24
}
#else
__device__ __forceinline__ float h2f(u16 h) {
	float f;
	asm("{ .reg .b16 t; mov.b16 t, %1; cvt.f32.f16 %0, t; }" : "=f"(f) : "h"(h));
	return f;
}

__device__ __forceinline__ u16 f2h(float f) {
	u16 h;
	asm("{ .reg .b16 t; cvt.rn.f16.f32 t, %1; mov.b16 %0, t; }" : "=h"(h) : "f"(f));
	return h;
}
#endif

// f16round is f rounded to the nearest half, as the CPU rounds activations
// for F16 weights.
__device__ __forceinline__ float f16round(float f) { return h2f(f2h(f)); }

// dp4a: c + the sum of the four products of a's and b's signed bytes.
__device__ __forceinline__ int dp4a(int a, int b, int c) {
#if __CUDA_ARCH__ >= 610 && !defined(CONVEYOR_CUDA_EMU)
	int r;
	asm("dp4a.s32.s32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(c));
	return r;
#else
	for (int i = 0; i < 4; i++) c += (int)(i8)(a >> 8 * i) * (int)(i8)(b >> 8 * i);
	return c;
#endif
}

__device__ __forceinline__ float warpSum(float v) {
	for (int o = WARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

__device__ __forceinline__ float warpMax(float v) {
	for (int o = WARP / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}

// load16 reads a little-endian u16 at a 2-byte aligned address.
__device__ __forceinline__ u32 load16(const u8 *p) { return *(const u16 *)p; }

// load32of16 reads 4 bytes at a 2-byte aligned address (Q4_0/Q8_0 blocks
// are 18 and 34 bytes, so their quants are only 2-byte aligned).
__device__ __forceinline__ int load32of16(const u8 *p) {
	const u16 *h = (const u16 *)p;
	return (int)((u32)h[0] | (u32)h[1] << 16);
}

#define NEG_INF __int_as_float(0xff800000)
