// fakecuda.c: a stand-in libcuda for tests of how Conveyor reports a driver
// it cannot use. FAKE_CUDA_INIT sets cuInit's result; FAKE_CUDA_DEVICES the
// device count. It runs nothing: only the entry points exist.
#include <stdlib.h>
#include <string.h>
#include <stddef.h>

static int env(const char *name, int def) {
	const char *s = getenv(name);
	return s ? atoi(s) : def;
}

int cuInit(unsigned flags) { (void)flags; return env("FAKE_CUDA_INIT", 0); }
int cuDriverGetVersion(int *v) { *v = 12040; return 0; }
int cuDeviceGetCount(int *n) { *n = env("FAKE_CUDA_DEVICES", 1); return 0; }
int cuDeviceGet(int *d, int ordinal) { *d = ordinal; return ordinal < env("FAKE_CUDA_DEVICES", 1) ? 0 : 101; }
int cuDeviceGetName(char *name, int len, int dev) { (void)dev; strncpy(name, "Fake GPU", (size_t)len); return 0; }
int cuDeviceGetAttribute(int *v, int attr, int dev) {
	(void)dev;
	switch (attr) {
	case 75: *v = 8; break;   // compute capability major
	case 76: *v = 6; break;   // minor
	case 16: *v = 84; break;  // SMs
	case 36: *v = 9751000; break; // memory clock, kHz
	case 37: *v = 384; break; // bus width
	default: *v = 0;
	}
	return 0;
}
int cuDeviceTotalMem_v2(size_t *b, int dev) { (void)dev; *b = (size_t)24 << 30; return 0; }
int cuDeviceGetPCIBusId(char *s, int len, int dev) { (void)dev; strncpy(s, "0000:01:00.0", (size_t)len); return 0; }
int cuGetErrorName(int r, const char **s) {
	switch (r) {
	case 100: *s = "CUDA_ERROR_NO_DEVICE"; return 0;
	case 101: *s = "CUDA_ERROR_INVALID_DEVICE"; return 0;
	case 999: *s = "CUDA_ERROR_UNKNOWN"; return 0;
	}
	return 1;
}
// Everything else the binding looks up fails as an unknown error.
#define STUB(f) int f(void) { return 999; }
STUB(cuDevicePrimaryCtxRetain) STUB(cuDevicePrimaryCtxRelease_v2) STUB(cuCtxSetCurrent)
STUB(cuMemGetInfo_v2) STUB(cuMemAlloc_v2) STUB(cuMemFree_v2) STUB(cuMemcpyHtoDAsync_v2)
STUB(cuMemcpyDtoHAsync_v2) STUB(cuMemcpyDtoDAsync_v2) STUB(cuMemsetD8Async) STUB(cuModuleLoadDataEx)
STUB(cuModuleGetFunction) STUB(cuModuleUnload) STUB(cuStreamCreate) STUB(cuStreamDestroy_v2)
STUB(cuStreamSynchronize) STUB(cuEventCreate) STUB(cuEventRecord) STUB(cuEventSynchronize)
STUB(cuEventElapsedTime) STUB(cuEventDestroy_v2) STUB(cuStreamBeginCapture_v2) STUB(cuStreamEndCapture)
STUB(cuGraphInstantiateWithFlags) STUB(cuGraphLaunch) STUB(cuGraphExecDestroy) STUB(cuGraphDestroy)
#ifndef FAKE_NO_LAUNCH
STUB(cuLaunchKernel)
#endif
