// emu.cuh: what CUDA C needs to compile with the host's C++ compiler and run
// on the CPU, prepended to a kernel module (common.cuh then NAME.cu) by
// package emu. Each block's threads run as fibers on the calling
// OS thread, switched only where a thread must wait for others: at
// __syncthreads (the block's live threads) and at warp shuffles (the warp's
// 32 lanes, which must all be live: the kernels shuffle warp-uniformly). A
// thread that returns no longer counts at either barrier, as on the GPU.
// Threads waiting at barriers the others never reach (divergent
// __syncthreads, a shuffle beside a __syncthreads), a partial warp at a
// shuffle and a lane that returns while its warp waits at one are errors.
//
// Shared memory is a static thread_local variable: one OS thread runs one
// block at a time, so the block's fibers see one copy. It starts as zeros
// and keeps the last block's values, so a read of shared memory never
// written goes unnoticed; threads run in order between barriers, so a race
// that a GPU's interleaving would expose may not show either.
#define CONVEYOR_CUDA_EMU 1

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <type_traits>
#if !defined(__x86_64__) || defined(EMU_UCONTEXT)
#include <ucontext.h>
#endif

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static thread_local

struct emu_uint3 {
	unsigned x, y, z;
};

// emu_ctx is a fiber's saved state. On x86-64 a switch saves the
// callee-saved registers on the fiber's own stack and swaps stack pointers
// (no system call, unlike swapcontext, which also saves the signal mask:
// 18x less CPU time for a mat-vec-like kernel); elsewhere, or with
// EMU_UCONTEXT defined, it is a ucontext.
#if defined(__x86_64__) && !defined(EMU_UCONTEXT)
typedef void *emu_ctx;
extern "C" void emu_switch(emu_ctx *save, emu_ctx to);
__asm__(".text\n"
	".hidden emu_switch\n"
	".type emu_switch, @function\n"
	"emu_switch:\n"
	"\tpushq %rbp\n\tpushq %rbx\n\tpushq %r12\n\tpushq %r13\n\tpushq %r14\n\tpushq %r15\n"
	"\tsubq $8, %rsp\n\tstmxcsr (%rsp)\n\tfnstcw 4(%rsp)\n"
	"\tmovq %rsp, (%rdi)\n\tmovq %rsi, %rsp\n"
	"\tldmxcsr (%rsp)\n\tfldcw 4(%rsp)\n\taddq $8, %rsp\n"
	"\tpopq %r15\n\tpopq %r14\n\tpopq %r13\n\tpopq %r12\n\tpopq %rbx\n\tpopq %rbp\n"
	"\tret\n"
	".size emu_switch, .-emu_switch\n");

// emu_ctx_init makes a fiber that starts in entry (which never returns)
// with the stack [stack, stack+size): a frame emu_switch pops.
static void emu_ctx_init(emu_ctx *c, char *stack, size_t size, void (*entry)()) {
	uint64_t *top = (uint64_t *)(((uintptr_t)(stack + size) & ~(uintptr_t)15) - 16);
	top[0] = (uint64_t)(uintptr_t)entry; // returned to: rsp+8 is then 16-aligned + 8, as after a call
	uint64_t *sp = top - 7;              // rbp, rbx, r12..r15 (zero), and the control words
	memset(sp, 0, 7 * sizeof *sp);
	uint32_t mxcsr = 0x1f80;             // the defaults: round to nearest, exceptions masked
	uint16_t fpucw = 0x37f;
	memcpy(sp, &mxcsr, 4);
	memcpy((char *)sp + 4, &fpucw, 2);
	*c = sp;
}
static inline void emu_swap(emu_ctx *save, emu_ctx *to) { emu_switch(save, *to); }
#else
typedef ucontext_t emu_ctx;
static void emu_ctx_init(emu_ctx *c, char *stack, size_t size, void (*entry)()) {
	getcontext(c);
	c->uc_stack.ss_sp = stack;
	c->uc_stack.ss_size = size;
	c->uc_link = 0;
	makecontext(c, entry, 0);
}
static inline void emu_swap(emu_ctx *save, emu_ctx *to) { swapcontext(save, to); }
#endif

struct emu_thread {
	emu_ctx ctx;
	emu_uint3 tid;
	int warp, lane;
	bool done;
	const unsigned *waitGen; // the barrier generation it waits to change, or null
	unsigned waitVal;
};

enum { EMU_MAX_THREADS = 1024, EMU_WARPS = EMU_MAX_THREADS / 32, EMU_STACK = 16 << 10 };

struct emu_block {
	emu_uint3 blockIdx, blockDim, gridDim;
	int threads;
	emu_thread *cur;
	emu_ctx sched;
	char error[256];
	// __syncthreads
	int live, arrived;
	unsigned gen;
	// warp shuffles: arrivals per warp and a value per lane, double
	// buffered by generation (a lane writes shuffle g+2 only after every
	// lane has passed shuffle g+1, so after all have read shuffle g).
	int warpLive[EMU_WARPS], warpArrived[EMU_WARPS];
	unsigned warpGen[EMU_WARPS];
	uint32_t xchg[2][EMU_WARPS][32];
	emu_thread fibers[EMU_MAX_THREADS];
	char *stacks;
};

static thread_local emu_block *emu_b;

// emu_fail stops the launch with msg: the current fiber never resumes.
static void emu_fail(const char *msg) {
	emu_block *b = emu_b;
	if (!b->error[0]) snprintf(b->error, sizeof b->error, "%s (block %u,%u,%u thread %u)", msg, b->blockIdx.x,
		b->blockIdx.y, b->blockIdx.z, b->cur->tid.x);
	b->cur->done = true;
	emu_swap(&b->cur->ctx, &b->sched);
}

// emu_arrive counts the current thread in at a barrier of live threads and
// returns once all of them have arrived.
static void emu_arrive(int *arrived, const int *live, unsigned *gen) {
	if (++*arrived == *live) {
		*arrived = 0;
		++*gen;
		return;
	}
	emu_thread *t = emu_b->cur;
	t->waitGen = gen;
	t->waitVal = *gen;
	emu_swap(&t->ctx, &emu_b->sched);
}

// emu_release lets a barrier's waiters go when a thread's exit leaves them
// all arrived.
static void emu_release(int *arrived, const int *live, unsigned *gen) {
	if (*arrived > 0 && *arrived == *live) {
		*arrived = 0;
		++*gen;
	}
}

static inline void __syncthreads() { emu_arrive(&emu_b->arrived, &emu_b->live, &emu_b->gen); }

template <class T> static T __shfl_xor_sync(unsigned mask, T v, int laneMask) {
	static_assert(sizeof(T) == 4, "emu: 32-bit shuffles only");
	emu_block *b = emu_b;
	emu_thread *t = b->cur;
	int w = t->warp;
	if (mask != 0xffffffffu || b->warpLive[w] != 32 || laneMask < 0 || laneMask >= 32)
		emu_fail("emu: __shfl_xor_sync needs all 32 lanes of the warp live and a full mask");
	uint32_t(*slot)[32] = b->xchg[b->warpGen[w] & 1];
	memcpy(&slot[w][t->lane], &v, 4);
	emu_arrive(&b->warpArrived[w], &b->warpLive[w], &b->warpGen[w]);
	T r;
	memcpy(&r, &slot[w][t->lane ^ laneMask], 4);
	return r;
}

static inline float __int_as_float(int i) {
	float f;
	memcpy(&f, &i, 4);
	return f;
}

static inline int __float_as_int(float f) {
	int i;
	memcpy(&i, &f, 4);
	return i;
}

static inline int max(int a, int b) { return a > b ? a : b; }
static inline int min(int a, int b) { return a < b ? a : b; }

// emu_kernel(emu_kernel_ctx) is what every fiber of the launch runs.
static thread_local void (*emu_kernel)(const void *);
static thread_local const void *emu_kernel_ctx;

static void emu_start() {
	emu_kernel(emu_kernel_ctx);
	emu_block *b = emu_b;
	emu_thread *t = b->cur;
	t->done = true;
	if (b->warpArrived[t->warp] > 0 && !b->error[0])
		snprintf(b->error, sizeof b->error, "emu: thread %u returned while its warp waits at a shuffle (block %u,%u,%u)",
			t->tid.x, b->blockIdx.x, b->blockIdx.y, b->blockIdx.z);
	b->live--;
	b->warpLive[t->warp]--;
	emu_release(&b->arrived, &b->live, &b->gen);
	emu_release(&b->warpArrived[t->warp], &b->warpLive[t->warp], &b->warpGen[t->warp]);
	emu_swap(&t->ctx, &b->sched);
}

// emu_run runs kernel(ctx) over grid blocks of block threads; it returns
// null, or what went wrong.
static const char *emu_run(const unsigned grid[3], const unsigned block[3], void (*kernel)(const void *),
	const void *ctx) {
	static thread_local emu_block *state;
	if (!state) {
		state = (emu_block *)calloc(1, sizeof(emu_block));
		state->stacks = (char *)malloc((size_t)EMU_MAX_THREADS * EMU_STACK);
		if (!state->stacks) return "emu: out of memory for fiber stacks";
	}
	emu_block *b = state;
	unsigned n = block[0] * block[1] * block[2];
	if (n == 0 || n > EMU_MAX_THREADS || grid[0] == 0 || grid[1] == 0 || grid[2] == 0) return "emu: bad launch dimensions";
	emu_block *saved = emu_b;
	emu_b = b;
	emu_kernel = kernel;
	emu_kernel_ctx = ctx;
	b->error[0] = 0;
	b->gridDim = {grid[0], grid[1], grid[2]};
	b->blockDim = {block[0], block[1], block[2]};
	b->threads = (int)n;
	for (unsigned bz = 0; bz < grid[2]; bz++)
		for (unsigned by = 0; by < grid[1]; by++)
			for (unsigned bx = 0; bx < grid[0]; bx++) {
				b->blockIdx = {bx, by, bz};
				b->live = (int)n;
				b->arrived = 0;
				for (int w = 0; w < EMU_WARPS; w++) {
					b->warpLive[w] = w * 32 < (int)n ? ((int)n - w * 32 < 32 ? (int)n - w * 32 : 32) : 0;
					b->warpArrived[w] = 0;
				}
				for (unsigned i = 0; i < n; i++) {
					emu_thread *t = &b->fibers[i];
					t->tid = {i % block[0], i / block[0] % block[1], i / (block[0] * block[1])};
					t->warp = (int)i / 32;
					t->lane = (int)i % 32;
					t->done = false;
					t->waitGen = 0;
					// Stacks start at staggered cache lines: tops EMU_STACK apart would
					// share cache sets and evict one another at every switch.
					emu_ctx_init(&t->ctx, b->stacks + (size_t)i * EMU_STACK, EMU_STACK - (i % 61) * 64, emu_start);
				}
				for (int left = (int)n; left > 0 && !b->error[0];) {
					bool ran = false;
					left = 0;
					for (unsigned i = 0; i < n && !b->error[0]; i++) {
						emu_thread *t = &b->fibers[i];
						if (t->done) continue;
						if (t->waitGen && *t->waitGen == t->waitVal) {
							left++;
							continue;
						}
						t->waitGen = 0;
						b->cur = t;
						emu_swap(&b->sched, &t->ctx);
						ran = true;
						if (!t->done) left++;
					}
					if (left > 0 && !ran && !b->error[0])
						snprintf(b->error, sizeof b->error,
							"emu: deadlock in block %u,%u,%u: threads wait at barriers the others never reach", bx, by, bz);
				}
				if (b->error[0]) {
					emu_b = saved;
					return b->error;
				}
			}
	emu_b = saved;
	return 0;
}

// emu_param reads kernel parameter bytes as packed by cgo/cuda's Args: the
// conversion to the kernel's declared parameter type checks, at compile
// time, that it is what the packing says ('u' 8 bytes: a pointer or a
// 64-bit integer; 'i' a 32-bit integer; 'f' a float).
template <char K> struct emu_param {
	const unsigned char *p;
	template <class T> operator T() const {
		if constexpr (K == 'u') {
			static_assert(sizeof(T) == 8 && (std::is_pointer<T>::value || std::is_integral<T>::value),
				"kernel parameter packed as u64 is not a pointer or 64-bit integer");
		} else if constexpr (K == 'i') {
			static_assert(sizeof(T) == 4 && std::is_integral<T>::value, "kernel parameter packed as u32 is not an int");
		} else {
			static_assert(std::is_same<T, float>::value, "kernel parameter packed as f32 is not a float");
		}
		T v;
		memcpy(&v, p, sizeof(T));
		return v;
	}
};

// The built-in variables, last: the runtime above names the fields plainly.
#define threadIdx (emu_b->cur->tid)
#define blockIdx (emu_b->blockIdx)
#define blockDim (emu_b->blockDim)
#define gridDim (emu_b->gridDim)
