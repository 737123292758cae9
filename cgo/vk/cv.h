// cv.h: the C half of package vk. Everything that builds Vulkan structs that
// point at each other lives here, in C memory; Go passes plain integers and
// flat arrays of cv_cmd.
//
// Nothing links libvulkan: cv_load dlopens the loader and looks up only
// vkGetInstanceProcAddr; every other entry point comes from it (global ones
// with a NULL instance), from it again per instance, and from
// vkGetDeviceProcAddr per device. The headers give the PFN_ types only.
#ifndef CONVEYOR_CV_H
#define CONVEYOR_CV_H

#ifndef VK_NO_PROTOTYPES
#define VK_NO_PROTOTYPES
#endif
#include <stdint.h>
#include <stddef.h>
#include <vulkan/vulkan.h>

// CV_ERROR_MISSING_ENTRY is returned (as a VkResult) when the loader or the
// driver lacks an entry point; cv_missing names it.
#define CV_ERROR_MISSING_ENTRY (-1000999)

#define CV_MAX_BIND 20 // within maxPushDescriptors (at least 32)
#define CV_MAX_PUSH 128

enum {
	CV_CMD_DISPATCH = 0,
	CV_CMD_COPY = 1,
	CV_CMD_FILL = 2,
	CV_CMD_TIMESTAMP = 3,
	CV_CMD_RESET_QUERIES = 4,
};

// cv_cmd is one recorded command. It holds no pointers, so Go can build a
// slice of them and hand the whole slice to cv_submit in one cgo call.
typedef struct {
	uint32_t kind;
	uint32_t barrier; // nonzero: a full compute/transfer memory barrier first
	uint64_t pipeline, layout; // DISPATCH; TIMESTAMP/RESET: pipeline is the query pool
	uint32_t nbind, push_size;
	// DISPATCH: storage buffer bindings 0..nbind-1.
	// COPY: buf[0] src, buf[1] dst, off[0] src offset, off[1] dst offset, range[0] size.
	// FILL: buf[0] dst, off[0] offset, range[0] size, groups[0] value.
	// TIMESTAMP: groups[0] query. RESET: groups[0] first, groups[1] count.
	uint64_t buf[CV_MAX_BIND], off[CV_MAX_BIND], range[CV_MAX_BIND];
	uint32_t groups[3];
	uint32_t pad;
	uint8_t push[CV_MAX_PUSH];
} cv_cmd;

// The entry points each level uses, as X-macro lists: a table's field f has
// type PFN_f and is called as t->fn.f(...).
#define CV_INSTANCE_FNS(X) \
	X(vkDestroyInstance) \
	X(vkEnumeratePhysicalDevices) \
	X(vkEnumerateDeviceExtensionProperties) \
	X(vkGetPhysicalDeviceProperties) \
	X(vkGetPhysicalDeviceProperties2) \
	X(vkGetPhysicalDeviceFeatures2) \
	X(vkGetPhysicalDeviceMemoryProperties) \
	X(vkGetPhysicalDeviceMemoryProperties2) \
	X(vkGetPhysicalDeviceQueueFamilyProperties) \
	X(vkCreateDevice) \
	X(vkGetDeviceProcAddr)

#define CV_DEVICE_FNS(X) \
	X(vkDestroyDevice) X(vkGetDeviceQueue) X(vkDeviceWaitIdle) \
	X(vkCreateCommandPool) X(vkDestroyCommandPool) \
	X(vkAllocateCommandBuffers) X(vkFreeCommandBuffers) \
	X(vkBeginCommandBuffer) X(vkEndCommandBuffer) \
	X(vkCreateFence) X(vkDestroyFence) X(vkWaitForFences) X(vkResetFences) X(vkQueueSubmit) \
	X(vkCreateBuffer) X(vkDestroyBuffer) X(vkGetBufferMemoryRequirements) \
	X(vkAllocateMemory) X(vkFreeMemory) X(vkBindBufferMemory) X(vkMapMemory) \
	X(vkCreateShaderModule) X(vkDestroyShaderModule) \
	X(vkCreateDescriptorSetLayout) X(vkDestroyDescriptorSetLayout) \
	X(vkCreatePipelineLayout) X(vkDestroyPipelineLayout) \
	X(vkCreateComputePipelines) X(vkDestroyPipeline) \
	X(vkCreateQueryPool) X(vkDestroyQueryPool) X(vkGetQueryPoolResults) \
	X(vkCmdPipelineBarrier) X(vkCmdBindPipeline) X(vkCmdPushConstants) X(vkCmdDispatch) \
	X(vkCmdCopyBuffer) X(vkCmdFillBuffer) X(vkCmdWriteTimestamp) X(vkCmdResetQueryPool) \
	X(vkCmdPushDescriptorSetKHR)

#define CV_FIELD(f) PFN_##f f;
typedef struct { CV_INSTANCE_FNS(CV_FIELD) } cv_instance_fns;
typedef struct { CV_DEVICE_FNS(CV_FIELD) } cv_device_fns;

// cv_load dlopens the Vulkan loader name and fills the global table: 0 on
// success, 1 when dlopen fails, 2 when an entry point is missing;
// cv_load_error says why. Only the first success fills the table; failures,
// and later successes, change nothing. Calls must not overlap.
int cv_load(const char *name);
const char *cv_load_error(void);
const char *cv_missing(void);

typedef struct {
	VkInstance instance;
	VkDebugUtilsMessengerEXT messenger;
	PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger;
	cv_instance_fns fn;
} cv_instance;

typedef struct {
	char name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
	uint32_t type, api_version, driver_version, vendor_id, device_id;
	uint32_t subgroup_size, subgroup_ops, subgroup_stages;
	uint32_t fp16, int8, storage16, storage8;
	uint64_t max_storage_range, max_alloc, min_storage_align;
	uint32_t max_wg_size[3], max_wg_invocations, max_push;
	float timestamp_period;
	uint32_t heap_count;
	uint64_t heap_size[VK_MAX_MEMORY_HEAPS];
	uint32_t heap_flags[VK_MAX_MEMORY_HEAPS];
	uint32_t push_descriptor, memory_budget;
	uint32_t int_dot; // shaderIntegerDotProduct (Vulkan 1.3 or VK_KHR_shader_integer_dot_product)
} cv_props;

#define CV_SPARE 8

typedef struct {
	VkPhysicalDevice phys;
	VkDevice device;
	VkQueue queue;
	uint32_t family;
	uint32_t timestamp_bits;
	VkCommandPool pool;
	// Command buffers and fences of finished submissions, reused by cv_submit.
	VkCommandBuffer spare_cb[CV_SPARE];
	VkFence spare_fence[CV_SPARE];
	uint32_t nspare_cb, nspare_fence;
	VkPhysicalDeviceMemoryProperties mem;
	uint32_t memory_budget;
	cv_instance_fns ifn; // the instance's table, copied
	cv_device_fns fn;
} cv_device;

VkResult cv_create_instance(int validate, cv_instance *out);
void cv_destroy_instance(cv_instance *in);
int64_t cv_validation_errors(void);
int64_t cv_validation_warnings(void);

VkResult cv_physical_devices(cv_instance *in, VkPhysicalDevice *out, uint32_t *count);
void cv_properties(cv_instance *in, VkPhysicalDevice pd, cv_props *p);

VkResult cv_create_device(cv_instance *in, VkPhysicalDevice pd, cv_device *d);
void cv_destroy_device(cv_device *d);
// cv_heap_budget fills budget and usage per heap (VK_EXT_memory_budget); 0 if unsupported.
int cv_heap_budget(cv_device *d, uint64_t *budget, uint64_t *usage, uint32_t n);

// cv_create_buffer maps host buffers; coherent says whether the memory is
// host-visible and coherent (a device buffer too, on a UMA device), so that
// cv_map may map it.
VkResult cv_create_buffer(cv_device *d, uint64_t size, int host, VkBuffer *buf, VkDeviceMemory *mem, void **mapped,
	int *coherent);
VkResult cv_map(cv_device *d, VkDeviceMemory mem, void **mapped);
void cv_destroy_buffer(cv_device *d, VkBuffer buf, VkDeviceMemory mem);

VkResult cv_create_pipeline(cv_device *d, const void *code, size_t size, uint32_t nbind,
	uint32_t push_size, const uint32_t *spec, uint32_t nspec,
	VkPipeline *pipe, VkPipelineLayout *layout, VkDescriptorSetLayout *dsl, VkShaderModule *mod);
void cv_destroy_pipeline(cv_device *d, VkPipeline pipe, VkPipelineLayout layout, VkDescriptorSetLayout dsl, VkShaderModule mod);

VkResult cv_create_query_pool(cv_device *d, uint32_t count, VkQueryPool *pool);
void cv_destroy_query_pool(cv_device *d, VkQueryPool pool);
VkResult cv_query_results(cv_device *d, VkQueryPool pool, uint32_t first, uint32_t count, uint64_t *out);

// cv_submit records cmds[0..n) into a new command buffer and submits it with a
// new fence; cv_wait waits for that fence and frees both.
VkResult cv_submit(cv_device *d, const cv_cmd *cmds, uint32_t n, VkCommandBuffer *cb, VkFence *fence);
VkResult cv_wait(cv_device *d, VkCommandBuffer cb, VkFence fence);
// cv_record records cmds[0..n) into a command buffer: one-time (from the
// spares) or reusable (submitted again and again, freed with cv_release_cb),
// ending with a barrier that makes writes visible to the host when host is
// nonzero; reusable 2 allows it to be pending more than once.
// cv_submit_cbs submits cbs[0..n) in order with a new fence.
VkResult cv_record(cv_device *d, const cv_cmd *cmds, uint32_t n, int reusable, int host, VkCommandBuffer *cb);
VkResult cv_submit_cbs(cv_device *d, const VkCommandBuffer *cbs, uint32_t n, VkFence *fence);
// cv_release_cb returns a finished command buffer to the spares (spare
// nonzero: a one-time one) or frees it.
void cv_release_cb(cv_device *d, VkCommandBuffer cb, int spare);

#endif
