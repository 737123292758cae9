// cu.h: the C half of package cuda. Nothing links libcuda or libnvrtc: cu_load
// and nv_load dlopen them and look up the few entry points used, so a binary
// built with this runs on machines without CUDA. The driver API's types are
// declared here as plain integers and opaque pointers; no CUDA header is needed.
//
// Every call that touches a context makes it current first (Go moves
// goroutines between OS threads, and a CUDA context is current per thread),
// which is why the calls are few and coarse: a whole list of launches crosses
// cgo once.
#ifndef CONVEYOR_CU_H
#define CONVEYOR_CU_H

#include <stddef.h>
#include <stdint.h>

typedef int cu_result;        // CUresult: 0 is CUDA_SUCCESS
typedef uint64_t cu_devptr;   // CUdeviceptr
#define CU_ERROR_MISSING_ENTRY (-999) // an entry point was not found; cu_missing names it
#define CU_ERROR_NOT_LOADED (-998)    // cu_load has not succeeded

#define CU_MAX_ARGS 192

enum {
	CU_CMD_LAUNCH = 0, // fn with the packed args
	CU_CMD_COPY = 1,   // args: dst, src (cu_devptr), bytes (uint64)
	CU_CMD_ZERO = 2,   // args: dst (cu_devptr), bytes (uint64)
};

// cu_cmd is one recorded command; it holds no pointers into Go memory, so a
// Go slice of them crosses cgo in one call.
typedef struct {
	uint64_t fn; // CUfunction for CU_CMD_LAUNCH
	uint32_t kind;
	uint32_t grid[3], block[3];
	uint32_t shmem;
	uint32_t argsize;
	uint32_t pad;
	uint8_t args[CU_MAX_ARGS]; // the kernel's parameters, packed as its C ABI lays them out
} cu_cmd;

typedef struct {
	char name[256];
	int major, minor;      // compute capability
	int sms;               // multiprocessors
	int clock_khz;         // memory clock, kHz
	int bus_bits;          // memory bus width, bits
	int max_shared;        // shared memory per block, bytes
	int integrated;
	uint64_t total_mem;    // bytes
	char pci[32];          // PCI bus id, e.g. 0000:01:00.0
} cu_info;

// cu_ctx is an open device: its primary context and one stream.
typedef struct {
	void *ctx;
	void *stream;
	int device;
} cu_ctx;

// cu_load dlopens the driver library name: 0 on success, 1 when dlopen fails,
// 2 when an entry point is missing; cu_load_error says why. The first success
// is kept; later calls change nothing.
int cu_load(const char *name);
const char *cu_load_error(void);
const char *cu_missing(void);
// cu_error_name is the driver's name for r (CUDA_ERROR_...), or NULL.
const char *cu_error_name(cu_result r);

cu_result cu_init(int *driver_version);
cu_result cu_device_count(int *n);
cu_result cu_device_info(int ordinal, cu_info *out);

cu_result cu_open(int ordinal, cu_ctx *c);
void cu_close(cu_ctx *c);
cu_result cu_mem_info(cu_ctx *c, uint64_t *free_bytes, uint64_t *total);
cu_result cu_alloc(cu_ctx *c, uint64_t size, cu_devptr *out);
cu_result cu_free(cu_ctx *c, cu_devptr p);
// cu_write queues a copy of n bytes from host to dst on the stream; host may
// be reused once it returns (the driver stages pageable memory).
cu_result cu_write(cu_ctx *c, cu_devptr dst, const void *host, uint64_t n);
// cu_read queues a copy to host and waits for the stream.
cu_result cu_read(cu_ctx *c, void *host, cu_devptr src, uint64_t n);
cu_result cu_sync(cu_ctx *c);

// cu_module_load JIT-links PTX; on failure log holds the driver's message.
cu_result cu_module_load(cu_ctx *c, const char *ptx, void **mod, char *log, size_t loglen);
cu_result cu_module_function(cu_ctx *c, void *mod, const char *name, uint64_t *fn);
void cu_module_unload(cu_ctx *c, void *mod);

// cu_submit queues cmds[0..n) on the stream, in order.
cu_result cu_submit(cu_ctx *c, const cu_cmd *cmds, uint32_t n);
// cu_capture records cmds into a CUDA graph by stream capture and
// instantiates it; cu_replay launches it on the stream.
cu_result cu_capture(cu_ctx *c, const cu_cmd *cmds, uint32_t n, void **exec);
cu_result cu_replay(cu_ctx *c, void *exec);
void cu_graph_free(cu_ctx *c, void *exec);
// cu_time runs cmds reps times between two events and waits: milliseconds.
cu_result cu_time(cu_ctx *c, const cu_cmd *cmds, uint32_t n, int reps, float *ms);

// NVRTC, loaded separately: a machine may have the driver without it.
int nv_load(const char *name);
// nv_probe reads the version of NVRTC library name without keeping it
// loaded: 0, or 1 when it cannot be loaded, 2 when it is no NVRTC.
int nv_probe(const char *name, int *major, int *minor);
// nv_preload loads a library NVRTC itself dlopens by soname (its builtins),
// so that a copy outside the library path is found: 1 on success.
int nv_preload(const char *path);
const char *nv_load_error(void);
int nv_version(int *major, int *minor);
// nv_archs fills up to n supported sm numbers (e.g. 80); returns how many, or
// -1 when this NVRTC cannot say (before 11.2).
int nv_archs(int *out, int n);
// nv_compile compiles src to PTX: 0 on success with *ptx malloc'ed; otherwise
// the NVRTC result, with *log malloc'ed (NULL-terminated) when there is one.
int nv_compile(const char *src, const char *name, const char **opts, int nopts,
	char **ptx, size_t *ptxlen, char **log);
const char *nv_error(int r);

#endif
