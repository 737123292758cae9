// cu.c: the C half of package cuda (see cu.h).
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cu.h"

// The driver entry points, with the driver API's types reduced to what the
// ABI sees: handles are pointers, CUdevice an int, CUdeviceptr 64 bits.
#define CU_FNS(X) \
	X(cuInit, cu_result, (unsigned)) \
	X(cuDriverGetVersion, cu_result, (int *)) \
	X(cuDeviceGetCount, cu_result, (int *)) \
	X(cuDeviceGet, cu_result, (int *, int)) \
	X(cuDeviceGetName, cu_result, (char *, int, int)) \
	X(cuDeviceGetAttribute, cu_result, (int *, int, int)) \
	X(cuDeviceTotalMem_v2, cu_result, (size_t *, int)) \
	X(cuDeviceGetPCIBusId, cu_result, (char *, int, int)) \
	X(cuDevicePrimaryCtxRetain, cu_result, (void **, int)) \
	X(cuDevicePrimaryCtxRelease_v2, cu_result, (int)) \
	X(cuCtxSetCurrent, cu_result, (void *)) \
	X(cuMemGetInfo_v2, cu_result, (size_t *, size_t *)) \
	X(cuMemAlloc_v2, cu_result, (cu_devptr *, size_t)) \
	X(cuMemFree_v2, cu_result, (cu_devptr)) \
	X(cuMemcpyHtoDAsync_v2, cu_result, (cu_devptr, const void *, size_t, void *)) \
	X(cuMemcpyDtoHAsync_v2, cu_result, (void *, cu_devptr, size_t, void *)) \
	X(cuMemcpyDtoDAsync_v2, cu_result, (cu_devptr, cu_devptr, size_t, void *)) \
	X(cuMemsetD8Async, cu_result, (cu_devptr, unsigned char, size_t, void *)) \
	X(cuModuleLoadDataEx, cu_result, (void **, const void *, unsigned, int *, void **)) \
	X(cuModuleGetFunction, cu_result, (void **, void *, const char *)) \
	X(cuModuleUnload, cu_result, (void *)) \
	X(cuLaunchKernel, cu_result, (void *, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, \
		unsigned, void *, void **, void **)) \
	X(cuStreamCreate, cu_result, (void **, unsigned)) \
	X(cuStreamDestroy_v2, cu_result, (void *)) \
	X(cuStreamSynchronize, cu_result, (void *)) \
	X(cuEventCreate, cu_result, (void **, unsigned)) \
	X(cuEventRecord, cu_result, (void *, void *)) \
	X(cuEventSynchronize, cu_result, (void *)) \
	X(cuEventElapsedTime, cu_result, (float *, void *, void *)) \
	X(cuEventDestroy_v2, cu_result, (void *))

// Graphs (CUDA 11.4 drivers and later): without them, commands are launched
// one by one.
#define CU_GRAPH_FNS(X) \
	X(cuStreamBeginCapture_v2, cu_result, (void *, int)) \
	X(cuStreamEndCapture, cu_result, (void *, void **)) \
	X(cuGraphInstantiateWithFlags, cu_result, (void **, void *, unsigned long long)) \
	X(cuGraphLaunch, cu_result, (void *, void *)) \
	X(cuGraphExecDestroy, cu_result, (void *)) \
	X(cuGraphDestroy, cu_result, (void *))

#define CU_FIELD(f, ret, args) ret(*f) args;
static struct {
	void *lib;
	CU_FNS(CU_FIELD)
	CU_GRAPH_FNS(CU_FIELD)
	int graphs; // every graph entry point is there
	cu_result (*cuGetErrorName)(cu_result, const char **); // optional
} cu;

static char load_error[512];
static const char *missing = "";

const char *cu_load_error(void) { return load_error; }
const char *cu_missing(void) { return missing; }

int cu_load(const char *name) {
	if (cu.lib) return 0;
	void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		const char *e = dlerror();
		snprintf(load_error, sizeof load_error, "%s", e ? e : "dlopen failed");
		return 1;
	}
#define CU_LOOKUP(f, ret, args)                                                    \
	if (!(cu.f = (ret(*) args)dlsym(lib, #f))) {                              \
		snprintf(load_error, sizeof load_error, "no entry point %s", #f); \
		missing = #f;                                                      \
		dlclose(lib);                                                      \
		memset(&cu, 0, sizeof cu);                                         \
		return 2;                                                          \
	}
	CU_FNS(CU_LOOKUP)
#undef CU_LOOKUP
	cu.graphs = 1;
#define CU_OPTIONAL(f, ret, args) \
	if (!(cu.f = (ret(*) args)dlsym(lib, #f))) cu.graphs = 0;
	CU_GRAPH_FNS(CU_OPTIONAL)
#undef CU_OPTIONAL
	cu.cuGetErrorName = (cu_result(*)(cu_result, const char **))dlsym(lib, "cuGetErrorName");
	cu.lib = lib;
	return 0;
}

const char *cu_error_name(cu_result r) {
	const char *s = NULL;
	if (cu.cuGetErrorName && cu.cuGetErrorName(r, &s) == 0) return s;
	return NULL;
}

#define NEED_LIB() \
	if (!cu.lib) return CU_ERROR_NOT_LOADED
#define TRY(call)                        \
	do {                             \
		cu_result r_ = (call);   \
		if (r_ != 0) return r_;  \
	} while (0)

cu_result cu_init(int *driver_version) {
	NEED_LIB();
	TRY(cu.cuInit(0));
	return cu.cuDriverGetVersion(driver_version);
}

cu_result cu_device_count(int *n) {
	NEED_LIB();
	return cu.cuDeviceGetCount(n);
}

// Device attributes, as CUdevice_attribute numbers them.
enum {
	ATTR_MAX_SHARED_PER_BLOCK = 8,
	ATTR_SM_COUNT = 16,
	ATTR_INTEGRATED = 18,
	ATTR_MEMORY_CLOCK = 36,
	ATTR_BUS_WIDTH = 37,
	ATTR_CC_MAJOR = 75,
	ATTR_CC_MINOR = 76,
};

cu_result cu_device_info(int ordinal, cu_info *o) {
	NEED_LIB();
	memset(o, 0, sizeof *o);
	int dev;
	TRY(cu.cuDeviceGet(&dev, ordinal));
	TRY(cu.cuDeviceGetName(o->name, sizeof o->name - 1, dev));
	struct { int attr; int *out; } attrs[] = {
		{ATTR_CC_MAJOR, &o->major}, {ATTR_CC_MINOR, &o->minor}, {ATTR_SM_COUNT, &o->sms},
		{ATTR_MEMORY_CLOCK, &o->clock_khz}, {ATTR_BUS_WIDTH, &o->bus_bits},
		{ATTR_MAX_SHARED_PER_BLOCK, &o->max_shared}, {ATTR_INTEGRATED, &o->integrated},
	};
	for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
		TRY(cu.cuDeviceGetAttribute(attrs[i].out, attrs[i].attr, dev));
	size_t mem = 0;
	TRY(cu.cuDeviceTotalMem_v2(&mem, dev));
	o->total_mem = mem;
	if (cu.cuDeviceGetPCIBusId(o->pci, sizeof o->pci - 1, dev) != 0) o->pci[0] = 0;
	return 0;
}

cu_result cu_open(int ordinal, cu_ctx *c) {
	NEED_LIB();
	memset(c, 0, sizeof *c);
	int dev;
	TRY(cu.cuDeviceGet(&dev, ordinal));
	TRY(cu.cuDevicePrimaryCtxRetain(&c->ctx, dev));
	c->device = dev;
	cu_result r = cu.cuCtxSetCurrent(c->ctx);
	if (r == 0) r = cu.cuStreamCreate(&c->stream, 1 /* CU_STREAM_NON_BLOCKING */);
	if (r != 0) {
		cu.cuDevicePrimaryCtxRelease_v2(dev);
		memset(c, 0, sizeof *c);
	}
	return r;
}

#define CURRENT(c) TRY(cu.cuCtxSetCurrent((c)->ctx))

void cu_close(cu_ctx *c) {
	if (!c->ctx) return;
	if (cu.cuCtxSetCurrent(c->ctx) == 0 && c->stream) {
		cu.cuStreamSynchronize(c->stream);
		cu.cuStreamDestroy_v2(c->stream);
	}
	cu.cuDevicePrimaryCtxRelease_v2(c->device);
	memset(c, 0, sizeof *c);
}

cu_result cu_mem_info(cu_ctx *c, uint64_t *free_bytes, uint64_t *total) {
	CURRENT(c);
	size_t f = 0, t = 0;
	TRY(cu.cuMemGetInfo_v2(&f, &t));
	*free_bytes = f;
	*total = t;
	return 0;
}

cu_result cu_alloc(cu_ctx *c, uint64_t size, cu_devptr *out) {
	CURRENT(c);
	return cu.cuMemAlloc_v2(out, size);
}

cu_result cu_free(cu_ctx *c, cu_devptr p) {
	CURRENT(c);
	return cu.cuMemFree_v2(p);
}

cu_result cu_write(cu_ctx *c, cu_devptr dst, const void *host, uint64_t n) {
	CURRENT(c);
	return cu.cuMemcpyHtoDAsync_v2(dst, host, n, c->stream);
}

cu_result cu_read(cu_ctx *c, void *host, cu_devptr src, uint64_t n) {
	CURRENT(c);
	TRY(cu.cuMemcpyDtoHAsync_v2(host, src, n, c->stream));
	return cu.cuStreamSynchronize(c->stream);
}

cu_result cu_sync(cu_ctx *c) {
	CURRENT(c);
	return cu.cuStreamSynchronize(c->stream);
}

cu_result cu_module_load(cu_ctx *c, const char *ptx, void **mod, char *log, size_t loglen) {
	CURRENT(c);
	int opts[] = {5 /* CU_JIT_ERROR_LOG_BUFFER */, 6 /* CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES */};
	void *vals[] = {log, (void *)(uintptr_t)loglen};
	if (loglen) log[0] = 0;
	return cu.cuModuleLoadDataEx(mod, ptx, loglen ? 2 : 0, opts, vals);
}

cu_result cu_module_function(cu_ctx *c, void *mod, const char *name, uint64_t *fn) {
	CURRENT(c);
	void *f = NULL;
	TRY(cu.cuModuleGetFunction(&f, mod, name));
	*fn = (uint64_t)(uintptr_t)f;
	return 0;
}

void cu_module_unload(cu_ctx *c, void *mod) {
	if (cu.cuCtxSetCurrent(c->ctx) == 0) cu.cuModuleUnload(mod);
}

// submit queues the commands; the context is current.
static cu_result submit(cu_ctx *c, const cu_cmd *cmds, uint32_t n) {
	for (uint32_t i = 0; i < n; i++) {
		const cu_cmd *k = &cmds[i];
		uint64_t a[3];
		memcpy(a, k->args, sizeof a);
		switch (k->kind) {
		case CU_CMD_LAUNCH: {
			size_t size = k->argsize;
			void *extra[] = {(void *)1 /* CU_LAUNCH_PARAM_BUFFER_POINTER */, (void *)k->args,
				(void *)2 /* CU_LAUNCH_PARAM_BUFFER_SIZE */, &size, (void *)0 /* CU_LAUNCH_PARAM_END */};
			TRY(cu.cuLaunchKernel((void *)(uintptr_t)k->fn, k->grid[0], k->grid[1], k->grid[2],
				k->block[0], k->block[1], k->block[2], k->shmem, c->stream, NULL, extra));
			break;
		}
		case CU_CMD_COPY:
			TRY(cu.cuMemcpyDtoDAsync_v2(a[0], a[1], a[2], c->stream));
			break;
		case CU_CMD_ZERO:
			TRY(cu.cuMemsetD8Async(a[0], 0, a[1], c->stream));
			break;
		default:
			return 1; // CUDA_ERROR_INVALID_VALUE
		}
	}
	return 0;
}

cu_result cu_submit(cu_ctx *c, const cu_cmd *cmds, uint32_t n) {
	CURRENT(c);
	return submit(c, cmds, n);
}

cu_result cu_capture(cu_ctx *c, const cu_cmd *cmds, uint32_t n, void **exec) {
	if (!cu.graphs) {
		missing = "cuGraphInstantiateWithFlags (a driver before CUDA 11.4)";
		return CU_ERROR_MISSING_ENTRY;
	}
	CURRENT(c);
	TRY(cu.cuStreamBeginCapture_v2(c->stream, 2 /* CU_STREAM_CAPTURE_MODE_RELAXED */));
	cu_result r = submit(c, cmds, n);
	void *graph = NULL;
	cu_result e = cu.cuStreamEndCapture(c->stream, &graph);
	if (r == 0) r = e;
	if (r == 0) r = cu.cuGraphInstantiateWithFlags(exec, graph, 0);
	if (graph) cu.cuGraphDestroy(graph);
	return r;
}

cu_result cu_replay(cu_ctx *c, void *exec) {
	if (!cu.graphs) return CU_ERROR_MISSING_ENTRY;
	CURRENT(c);
	return cu.cuGraphLaunch(exec, c->stream);
}

void cu_graph_free(cu_ctx *c, void *exec) {
	if (cu.graphs && cu.cuCtxSetCurrent(c->ctx) == 0) cu.cuGraphExecDestroy(exec);
}

cu_result cu_time(cu_ctx *c, const cu_cmd *cmds, uint32_t n, int reps, float *ms) {
	CURRENT(c);
	void *start = NULL, *stop = NULL;
	cu_result r = cu.cuEventCreate(&start, 0);
	if (r == 0) r = cu.cuEventCreate(&stop, 0);
	if (r == 0) r = cu.cuEventRecord(start, c->stream);
	for (int i = 0; r == 0 && i < reps; i++) r = submit(c, cmds, n);
	if (r == 0) r = cu.cuEventRecord(stop, c->stream);
	if (r == 0) r = cu.cuEventSynchronize(stop);
	if (r == 0) r = cu.cuEventElapsedTime(ms, start, stop);
	if (start) cu.cuEventDestroy_v2(start);
	if (stop) cu.cuEventDestroy_v2(stop);
	return r;
}

// NVRTC.
static struct {
	void *lib;
	int (*nvrtcVersion)(int *, int *);
	int (*nvrtcCreateProgram)(void **, const char *, const char *, int, const char **, const char **);
	int (*nvrtcCompileProgram)(void *, int, const char **);
	int (*nvrtcGetPTXSize)(void *, size_t *);
	int (*nvrtcGetPTX)(void *, char *);
	int (*nvrtcGetProgramLogSize)(void *, size_t *);
	int (*nvrtcGetProgramLog)(void *, char *);
	int (*nvrtcDestroyProgram)(void **);
	const char *(*nvrtcGetErrorString)(int);
	int (*nvrtcGetNumSupportedArchs)(int *); // 11.2 and later
	int (*nvrtcGetSupportedArchs)(int *);
} nv;
static char nv_error_buf[512];

const char *nv_load_error(void) { return nv_error_buf; }

int nv_probe(const char *name, int *major, int *minor) {
	void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!lib) return 1;
	int (*version)(int *, int *);
	*(void **)&version = dlsym(lib, "nvrtcVersion");
	int r = version && version(major, minor) == 0 ? 0 : 2;
	dlclose(lib);
	return r;
}

int nv_preload(const char *path) { return dlopen(path, RTLD_NOW | RTLD_GLOBAL) != NULL; }

int nv_load(const char *name) {
	if (nv.lib) return 0;
	void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		const char *e = dlerror();
		snprintf(nv_error_buf, sizeof nv_error_buf, "%s", e ? e : "dlopen failed");
		return 1;
	}
#define NV_LOOKUP(f)                                                                        \
	*(void **)&nv.f = dlsym(lib, #f);                                                 \
	if (!nv.f) {                                                                      \
		snprintf(nv_error_buf, sizeof nv_error_buf, "no entry point %s", #f);     \
		dlclose(lib);                                                             \
		memset(&nv, 0, sizeof nv);                                                \
		return 2;                                                                 \
	}
	NV_LOOKUP(nvrtcVersion)
	NV_LOOKUP(nvrtcCreateProgram)
	NV_LOOKUP(nvrtcCompileProgram)
	NV_LOOKUP(nvrtcGetPTXSize)
	NV_LOOKUP(nvrtcGetPTX)
	NV_LOOKUP(nvrtcGetProgramLogSize)
	NV_LOOKUP(nvrtcGetProgramLog)
	NV_LOOKUP(nvrtcDestroyProgram)
	NV_LOOKUP(nvrtcGetErrorString)
#undef NV_LOOKUP
	*(void **)&nv.nvrtcGetNumSupportedArchs = dlsym(lib, "nvrtcGetNumSupportedArchs");
	*(void **)&nv.nvrtcGetSupportedArchs = dlsym(lib, "nvrtcGetSupportedArchs");
	nv.lib = lib;
	return 0;
}

int nv_version(int *major, int *minor) {
	if (!nv.lib) return -1;
	return nv.nvrtcVersion(major, minor);
}

int nv_archs(int *out, int n) {
	if (!nv.lib || !nv.nvrtcGetNumSupportedArchs || !nv.nvrtcGetSupportedArchs) return -1;
	int k = 0;
	if (nv.nvrtcGetNumSupportedArchs(&k) != 0 || k <= 0) return -1;
	int *all = calloc((size_t)k, sizeof *all);
	if (!all || nv.nvrtcGetSupportedArchs(all) != 0) {
		free(all);
		return -1;
	}
	for (int i = 0; i < k && i < n; i++) out[i] = all[i];
	free(all);
	return k < n ? k : n;
}

const char *nv_error(int r) {
	if (!nv.lib) return "NVRTC not loaded";
	return nv.nvrtcGetErrorString(r);
}

int nv_compile(const char *src, const char *name, const char **opts, int nopts, char **ptx, size_t *ptxlen, char **log) {
	*ptx = NULL;
	*log = NULL;
	*ptxlen = 0;
	if (!nv.lib) return -1;
	void *prog = NULL;
	int r = nv.nvrtcCreateProgram(&prog, src, name, 0, NULL, NULL);
	if (r != 0) return r;
	r = nv.nvrtcCompileProgram(prog, nopts, opts);
	size_t n = 0;
	if (nv.nvrtcGetProgramLogSize(prog, &n) == 0 && n > 1) {
		*log = malloc(n + 1);
		if (*log && nv.nvrtcGetProgramLog(prog, *log) == 0) (*log)[n] = 0;
		else if (*log) (*log)[0] = 0;
	}
	if (r == 0) r = nv.nvrtcGetPTXSize(prog, &n);
	if (r == 0) {
		*ptx = malloc(n + 1);
		r = *ptx ? nv.nvrtcGetPTX(prog, *ptx) : 1 /* NVRTC_ERROR_OUT_OF_MEMORY */;
		if (r == 0) {
			(*ptx)[n] = 0;
			*ptxlen = strlen(*ptx);
		} else {
			free(*ptx);
			*ptx = NULL;
		}
	}
	nv.nvrtcDestroyProgram(&prog);
	return r;
}
