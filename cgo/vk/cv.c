// cv.c: the C half of package vk (see cv.h).
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cv.h"

// The loader and its global entry points, filled once by cv_load.
static struct {
	void *lib;
	PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
	PFN_vkCreateInstance vkCreateInstance;
	PFN_vkEnumerateInstanceLayerProperties vkEnumerateInstanceLayerProperties;
} loader;
static char load_error[512];
static const char *missing; // the last entry point not found (a string literal)

const char *cv_load_error(void) { return load_error; }
const char *cv_missing(void) {
	const char *m = __atomic_load_n(&missing, __ATOMIC_SEQ_CST);
	return m ? m : "";
}
static void set_missing(const char *name) { __atomic_store_n(&missing, name, __ATOMIC_SEQ_CST); }

int cv_load(const char *name) {
	void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		const char *e = dlerror();
		snprintf(load_error, sizeof load_error, "%s", e ? e : "dlopen failed");
		return 1;
	}
	PFN_vkGetInstanceProcAddr gipa = (PFN_vkGetInstanceProcAddr)dlsym(lib, "vkGetInstanceProcAddr");
	const char *lost = "vkGetInstanceProcAddr";
	PFN_vkCreateInstance create = NULL;
	PFN_vkEnumerateInstanceLayerProperties layers = NULL;
	if (gipa) {
		lost = "vkCreateInstance";
		create = (PFN_vkCreateInstance)gipa(NULL, lost);
	}
	if (create) {
		lost = "vkEnumerateInstanceLayerProperties";
		layers = (PFN_vkEnumerateInstanceLayerProperties)gipa(NULL, lost);
	}
	if (!layers) {
		snprintf(load_error, sizeof load_error, "no entry point %s", lost);
		dlclose(lib);
		return 2;
	}
	if (loader.lib) { // loaded before: keep that one
		dlclose(lib);
		return 0;
	}
	loader.vkGetInstanceProcAddr = gipa;
	loader.vkCreateInstance = create;
	loader.vkEnumerateInstanceLayerProperties = layers;
	loader.lib = lib;
	return 0;
}

// Each table's entries, looked up by name; the first one missing makes the
// lookup fail with CV_ERROR_MISSING_ENTRY.
#define CV_LOOKUP(get, handle, table, f)                    \
	if (!((table)->f = (PFN_##f)get(handle, #f))) {     \
		set_missing(#f);                            \
		return CV_ERROR_MISSING_ENTRY;              \
	}

static VkResult instance_fns(cv_instance *in) {
#define X(f) CV_LOOKUP(loader.vkGetInstanceProcAddr, in->instance, &in->fn, f)
	CV_INSTANCE_FNS(X)
#undef X
	return VK_SUCCESS;
}

static VkResult device_fns(cv_device *d) {
#define X(f) CV_LOOKUP(d->ifn.vkGetDeviceProcAddr, d->device, &d->fn, f)
	CV_DEVICE_FNS(X)
#undef X
	return VK_SUCCESS;
}

static int64_t cv_errors, cv_warnings;

int64_t cv_validation_errors(void) { return __atomic_load_n(&cv_errors, __ATOMIC_SEQ_CST); }
int64_t cv_validation_warnings(void) { return __atomic_load_n(&cv_warnings, __ATOMIC_SEQ_CST); }

static VKAPI_ATTR VkBool32 VKAPI_CALL cv_debug(VkDebugUtilsMessageSeverityFlagBitsEXT sev,
	VkDebugUtilsMessageTypeFlagsEXT type, const VkDebugUtilsMessengerCallbackDataEXT *data, void *user) {
	(void)type;
	(void)user;
	const char *what = "info";
	if (sev & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
		__atomic_add_fetch(&cv_errors, 1, __ATOMIC_SEQ_CST);
		what = "error";
	} else if (sev & VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
		__atomic_add_fetch(&cv_warnings, 1, __ATOMIC_SEQ_CST);
		what = "warning";
	}
	fprintf(stderr, "vulkan %s: %s\n", what, data && data->pMessage ? data->pMessage : "(no message)");
	return VK_FALSE;
}

static int has_layer(const char *name) {
	uint32_t n = 0;
	if (loader.vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0) return 0;
	VkLayerProperties *ls = calloc(n, sizeof *ls);
	int found = 0;
	if (loader.vkEnumerateInstanceLayerProperties(&n, ls) == VK_SUCCESS)
		for (uint32_t i = 0; i < n; i++)
			if (strcmp(ls[i].layerName, name) == 0) found = 1;
	free(ls);
	return found;
}

VkResult cv_create_instance(int validate, cv_instance *out) {
	memset(out, 0, sizeof *out);
	if (!loader.lib) {
		set_missing("vkGetInstanceProcAddr (the loader is not loaded)");
		return CV_ERROR_MISSING_ENTRY;
	}
	VkApplicationInfo app = {VK_STRUCTURE_TYPE_APPLICATION_INFO};
	app.pApplicationName = "conveyor";
	app.pEngineName = "conveyor";
	app.apiVersion = VK_API_VERSION_1_2;
	const char *layers[] = {"VK_LAYER_KHRONOS_validation"};
	const char *exts[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME};
	// Synchronization validation too: missing barriers between dispatches are
	// errors even where the driver happens to run dispatches in order.
	VkValidationFeatureEnableEXT enables[] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
	VkValidationFeaturesEXT features = {VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
	features.enabledValidationFeatureCount = 1;
	features.pEnabledValidationFeatures = enables;
	VkDebugUtilsMessengerCreateInfoEXT dbg = {VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
	dbg.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
	dbg.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
		VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
	dbg.pfnUserCallback = cv_debug;
	VkInstanceCreateInfo ci = {VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
	ci.pApplicationInfo = &app;
	if (validate) {
		if (!has_layer(layers[0])) return VK_ERROR_LAYER_NOT_PRESENT;
		ci.enabledLayerCount = 1;
		ci.ppEnabledLayerNames = layers;
		ci.enabledExtensionCount = 2;
		ci.ppEnabledExtensionNames = exts;
		ci.pNext = &dbg;
		dbg.pNext = &features;
	}
	VkResult r = loader.vkCreateInstance(&ci, NULL, &out->instance);
	if (r != VK_SUCCESS) return r;
	PFN_vkDestroyInstance destroy = (PFN_vkDestroyInstance)loader.vkGetInstanceProcAddr(out->instance, "vkDestroyInstance");
	r = instance_fns(out);
	if (r == VK_SUCCESS && validate) {
		PFN_vkCreateDebugUtilsMessengerEXT create =
			(PFN_vkCreateDebugUtilsMessengerEXT)loader.vkGetInstanceProcAddr(out->instance, "vkCreateDebugUtilsMessengerEXT");
		out->destroy_messenger =
			(PFN_vkDestroyDebugUtilsMessengerEXT)loader.vkGetInstanceProcAddr(out->instance, "vkDestroyDebugUtilsMessengerEXT");
		if (!create || !out->destroy_messenger) r = VK_ERROR_EXTENSION_NOT_PRESENT;
		dbg.pNext = NULL;
		if (r == VK_SUCCESS) r = create(out->instance, &dbg, NULL, &out->messenger);
	}
	if (r != VK_SUCCESS) {
		if (destroy) destroy(out->instance, NULL);
		memset(out, 0, sizeof *out);
	}
	return r;
}

void cv_destroy_instance(cv_instance *in) {
	if (in->messenger) in->destroy_messenger(in->instance, in->messenger, NULL);
	if (in->instance) in->fn.vkDestroyInstance(in->instance, NULL);
	memset(in, 0, sizeof *in);
}

VkResult cv_physical_devices(cv_instance *in, VkPhysicalDevice *out, uint32_t *count) {
	return in->fn.vkEnumeratePhysicalDevices(in->instance, count, out);
}

static int has_device_ext(const cv_instance_fns *fn, VkPhysicalDevice pd, const char *name) {
	uint32_t n = 0;
	if (fn->vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL) != VK_SUCCESS || n == 0) return 0;
	VkExtensionProperties *es = calloc(n, sizeof *es);
	int found = 0;
	if (fn->vkEnumerateDeviceExtensionProperties(pd, NULL, &n, es) == VK_SUCCESS)
		for (uint32_t i = 0; i < n; i++)
			if (strcmp(es[i].extensionName, name) == 0) found = 1;
	free(es);
	return found;
}

// int_dot_available: the integer dot product feature comes with its
// extension (the instance asks for Vulkan 1.2, where it is not core).
static int int_dot_available(const cv_instance_fns *fn, VkPhysicalDevice pd) {
	return has_device_ext(fn, pd, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
}

void cv_properties(cv_instance *in, VkPhysicalDevice pd, cv_props *p) {
	const cv_instance_fns *fn = &in->fn;
	memset(p, 0, sizeof *p);
	VkPhysicalDeviceProperties base;
	fn->vkGetPhysicalDeviceProperties(pd, &base);
	memcpy(p->name, base.deviceName, sizeof p->name);
	p->type = base.deviceType;
	p->api_version = base.apiVersion;
	p->driver_version = base.driverVersion;
	p->vendor_id = base.vendorID;
	p->device_id = base.deviceID;
	p->max_storage_range = base.limits.maxStorageBufferRange;
	p->min_storage_align = base.limits.minStorageBufferOffsetAlignment;
	for (int i = 0; i < 3; i++) p->max_wg_size[i] = base.limits.maxComputeWorkGroupSize[i];
	p->max_wg_invocations = base.limits.maxComputeWorkGroupInvocations;
	p->max_push = base.limits.maxPushConstantsSize;
	p->timestamp_period = base.limits.timestampPeriod;
	p->push_descriptor = has_device_ext(fn, pd, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
	p->memory_budget = has_device_ext(fn, pd, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);

	VkPhysicalDeviceMemoryProperties mem;
	fn->vkGetPhysicalDeviceMemoryProperties(pd, &mem);
	p->heap_count = mem.memoryHeapCount;
	for (uint32_t i = 0; i < mem.memoryHeapCount; i++) {
		p->heap_size[i] = mem.memoryHeaps[i].size;
		p->heap_flags[i] = mem.memoryHeaps[i].flags;
	}
	if (VK_API_VERSION_MINOR(base.apiVersion) < 2 && VK_API_VERSION_MAJOR(base.apiVersion) == 1) return;

	VkPhysicalDeviceSubgroupProperties sub = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
	VkPhysicalDeviceMaintenance3Properties m3 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
	sub.pNext = &m3;
	VkPhysicalDeviceProperties2 props2 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
	props2.pNext = &sub;
	fn->vkGetPhysicalDeviceProperties2(pd, &props2);
	p->subgroup_size = sub.subgroupSize;
	p->subgroup_ops = sub.supportedOperations;
	p->subgroup_stages = sub.supportedStages;
	p->max_alloc = m3.maxMemoryAllocationSize;

	VkPhysicalDeviceShaderFloat16Int8Features f16 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
	VkPhysicalDevice16BitStorageFeatures s16 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
	VkPhysicalDevice8BitStorageFeatures s8 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES};
	f16.pNext = &s16;
	s16.pNext = &s8;
	VkPhysicalDeviceShaderIntegerDotProductFeatures dot = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES};
	int has_dot = int_dot_available(fn, pd);
	if (has_dot) s8.pNext = &dot;
	VkPhysicalDeviceFeatures2 feats = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
	feats.pNext = &f16;
	fn->vkGetPhysicalDeviceFeatures2(pd, &feats);
	p->int_dot = has_dot && dot.shaderIntegerDotProduct;
	p->fp16 = f16.shaderFloat16;
	p->int8 = f16.shaderInt8;
	p->storage16 = s16.storageBuffer16BitAccess;
	p->storage8 = s8.storageBuffer8BitAccess;
}

VkResult cv_create_device(cv_instance *in, VkPhysicalDevice pd, cv_device *d) {
	memset(d, 0, sizeof *d);
	d->phys = pd;
	d->ifn = in->fn;
	const cv_instance_fns *ifn = &d->ifn;
	uint32_t n = 0;
	ifn->vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
	VkQueueFamilyProperties *qs = calloc(n ? n : 1, sizeof *qs);
	ifn->vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, qs);
	int family = -1;
	// Prefer a compute queue without graphics (often a dedicated compute engine).
	for (uint32_t i = 0; i < n && family < 0; i++)
		if ((qs[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && !(qs[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) family = (int)i;
	for (uint32_t i = 0; i < n && family < 0; i++)
		if (qs[i].queueFlags & VK_QUEUE_COMPUTE_BIT) family = (int)i;
	if (family >= 0) d->timestamp_bits = qs[family].timestampValidBits;
	free(qs);
	if (family < 0) return VK_ERROR_FEATURE_NOT_PRESENT;
	d->family = (uint32_t)family;
	if (!has_device_ext(ifn, pd, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME)) return VK_ERROR_EXTENSION_NOT_PRESENT;
	d->memory_budget = has_device_ext(ifn, pd, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);

	float prio = 1.0f;
	VkDeviceQueueCreateInfo qci = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
	qci.queueFamilyIndex = d->family;
	qci.queueCount = 1;
	qci.pQueuePriorities = &prio;
	const char *exts[3] = {VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME};
	uint32_t next = 1;
	if (d->memory_budget) exts[next++] = VK_EXT_MEMORY_BUDGET_EXTENSION_NAME;
	VkDeviceCreateInfo dci = {VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
	dci.queueCreateInfoCount = 1;
	dci.pQueueCreateInfos = &qci;
	// The matmul shaders' packed 4x8-bit dot products, where the device has them.
	VkPhysicalDeviceProperties base;
	ifn->vkGetPhysicalDeviceProperties(pd, &base);
	VkPhysicalDeviceShaderIntegerDotProductFeatures dot = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES};
	VkPhysicalDeviceFeatures2 feats = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
	if (VK_API_VERSION_MINOR(base.apiVersion) >= 2 && int_dot_available(ifn, pd)) {
		feats.pNext = &dot;
		ifn->vkGetPhysicalDeviceFeatures2(pd, &feats);
		if (dot.shaderIntegerDotProduct) {
			memset(&feats.features, 0, sizeof feats.features);
			dci.pNext = &feats;
			exts[next++] = VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME;
		}
	}
	dci.enabledExtensionCount = next;
	dci.ppEnabledExtensionNames = exts;
	VkResult r = ifn->vkCreateDevice(pd, &dci, NULL, &d->device);
	if (r != VK_SUCCESS) return r;
	PFN_vkDestroyDevice destroy = (PFN_vkDestroyDevice)ifn->vkGetDeviceProcAddr(d->device, "vkDestroyDevice");
	r = device_fns(d);
	if (r == VK_SUCCESS) {
		d->fn.vkGetDeviceQueue(d->device, d->family, 0, &d->queue);
		VkCommandPoolCreateInfo pci = {VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
		pci.queueFamilyIndex = d->family;
		pci.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT | VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
		r = d->fn.vkCreateCommandPool(d->device, &pci, NULL, &d->pool);
	}
	if (r != VK_SUCCESS) {
		if (destroy) destroy(d->device, NULL);
		d->device = NULL;
		return r;
	}
	ifn->vkGetPhysicalDeviceMemoryProperties(pd, &d->mem);
	return VK_SUCCESS;
}

void cv_destroy_device(cv_device *d) {
	if (!d->device) return;
	d->fn.vkDeviceWaitIdle(d->device);
	for (uint32_t i = 0; i < d->nspare_fence; i++) d->fn.vkDestroyFence(d->device, d->spare_fence[i], NULL);
	if (d->pool) d->fn.vkDestroyCommandPool(d->device, d->pool, NULL);
	d->fn.vkDestroyDevice(d->device, NULL);
	memset(d, 0, sizeof *d);
}

int cv_heap_budget(cv_device *d, uint64_t *budget, uint64_t *usage, uint32_t n) {
	if (!d->memory_budget) return 0;
	VkPhysicalDeviceMemoryBudgetPropertiesEXT b = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
	VkPhysicalDeviceMemoryProperties2 mp = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2};
	mp.pNext = &b;
	d->ifn.vkGetPhysicalDeviceMemoryProperties2(d->phys, &mp);
	uint32_t c = mp.memoryProperties.memoryHeapCount;
	if (c > n) c = n;
	for (uint32_t i = 0; i < c; i++) {
		budget[i] = b.heapBudget[i];
		usage[i] = b.heapUsage[i];
	}
	return (int)c;
}

static int find_memory(cv_device *d, uint32_t bits, VkMemoryPropertyFlags need, VkMemoryPropertyFlags want) {
	int best = -1;
	for (uint32_t i = 0; i < d->mem.memoryTypeCount; i++) {
		VkMemoryPropertyFlags f = d->mem.memoryTypes[i].propertyFlags;
		if (!(bits & (1u << i)) || (f & need) != need) continue;
		if ((f & want) == want) return (int)i;
		if (best < 0) best = (int)i;
	}
	return best;
}

VkResult cv_create_buffer(cv_device *d, uint64_t size, int host, VkBuffer *buf, VkDeviceMemory *mem, void **mapped,
	int *coherent) {
	*buf = VK_NULL_HANDLE;
	*mem = VK_NULL_HANDLE;
	*mapped = NULL;
	*coherent = 0;
	VkBufferCreateInfo bci = {VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
	bci.size = size;
	bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
	bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
	VkResult r = d->fn.vkCreateBuffer(d->device, &bci, NULL, buf);
	if (r != VK_SUCCESS) return r;
	VkMemoryRequirements req;
	d->fn.vkGetBufferMemoryRequirements(d->device, *buf, &req);
	int type = host ? find_memory(d, req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
				      VK_MEMORY_PROPERTY_HOST_CACHED_BIT)
			: find_memory(d, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
	if (type < 0 && !host) type = find_memory(d, req.memoryTypeBits, 0, 0);
	if (type < 0) {
		d->fn.vkDestroyBuffer(d->device, *buf, NULL);
		*buf = VK_NULL_HANDLE;
		return VK_ERROR_FEATURE_NOT_PRESENT;
	}
	VkMemoryPropertyFlags seen = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
	*coherent = (d->mem.memoryTypes[type].propertyFlags & seen) == seen;
	VkMemoryAllocateInfo ai = {VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
	ai.allocationSize = req.size;
	ai.memoryTypeIndex = (uint32_t)type;
	r = d->fn.vkAllocateMemory(d->device, &ai, NULL, mem);
	if (r == VK_SUCCESS) r = d->fn.vkBindBufferMemory(d->device, *buf, *mem, 0);
	if (r == VK_SUCCESS && host) r = d->fn.vkMapMemory(d->device, *mem, 0, VK_WHOLE_SIZE, 0, mapped);
	if (r != VK_SUCCESS) {
		cv_destroy_buffer(d, *buf, *mem);
		*buf = VK_NULL_HANDLE;
		*mem = VK_NULL_HANDLE;
	}
	return r;
}

VkResult cv_map(cv_device *d, VkDeviceMemory mem, void **mapped) {
	return d->fn.vkMapMemory(d->device, mem, 0, VK_WHOLE_SIZE, 0, mapped);
}

void cv_destroy_buffer(cv_device *d, VkBuffer buf, VkDeviceMemory mem) {
	if (buf) d->fn.vkDestroyBuffer(d->device, buf, NULL);
	if (mem) d->fn.vkFreeMemory(d->device, mem, NULL); // also unmaps
}

VkResult cv_create_pipeline(cv_device *d, const void *code, size_t size, uint32_t nbind, uint32_t push_size,
	const uint32_t *spec, uint32_t nspec, VkPipeline *pipe, VkPipelineLayout *layout, VkDescriptorSetLayout *dsl,
	VkShaderModule *mod) {
	*pipe = VK_NULL_HANDLE;
	*layout = VK_NULL_HANDLE;
	*dsl = VK_NULL_HANDLE;
	*mod = VK_NULL_HANDLE;
	VkShaderModuleCreateInfo sci = {VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
	sci.codeSize = size;
	sci.pCode = code;
	VkResult r = d->fn.vkCreateShaderModule(d->device, &sci, NULL, mod);
	if (r != VK_SUCCESS) return r;

	VkDescriptorSetLayoutBinding b[CV_MAX_BIND];
	memset(b, 0, sizeof b);
	for (uint32_t i = 0; i < nbind && i < CV_MAX_BIND; i++) {
		b[i].binding = i;
		b[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
		b[i].descriptorCount = 1;
		b[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
	}
	VkDescriptorSetLayoutCreateInfo lci = {VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
	lci.flags = VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR;
	lci.bindingCount = nbind;
	lci.pBindings = b;
	r = d->fn.vkCreateDescriptorSetLayout(d->device, &lci, NULL, dsl);
	if (r != VK_SUCCESS) goto fail;

	VkPushConstantRange pr = {VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size};
	VkPipelineLayoutCreateInfo plci = {VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
	plci.setLayoutCount = 1;
	plci.pSetLayouts = dsl;
	plci.pushConstantRangeCount = push_size ? 1 : 0;
	plci.pPushConstantRanges = &pr;
	r = d->fn.vkCreatePipelineLayout(d->device, &plci, NULL, layout);
	if (r != VK_SUCCESS) goto fail;

	VkSpecializationMapEntry entries[32];
	if (nspec > 32) nspec = 32;
	for (uint32_t i = 0; i < nspec; i++) {
		entries[i].constantID = i;
		entries[i].offset = 4 * i;
		entries[i].size = 4;
	}
	VkSpecializationInfo si = {nspec, entries, 4 * (size_t)nspec, spec};
	VkComputePipelineCreateInfo cci = {VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
	cci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
	cci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
	cci.stage.module = *mod;
	cci.stage.pName = "main";
	cci.stage.pSpecializationInfo = nspec ? &si : NULL;
	cci.layout = *layout;
	r = d->fn.vkCreateComputePipelines(d->device, VK_NULL_HANDLE, 1, &cci, NULL, pipe);
	if (r == VK_SUCCESS) return r;
fail:
	cv_destroy_pipeline(d, *pipe, *layout, *dsl, *mod);
	*pipe = VK_NULL_HANDLE;
	*layout = VK_NULL_HANDLE;
	*dsl = VK_NULL_HANDLE;
	*mod = VK_NULL_HANDLE;
	return r;
}

void cv_destroy_pipeline(cv_device *d, VkPipeline pipe, VkPipelineLayout layout, VkDescriptorSetLayout dsl, VkShaderModule mod) {
	if (pipe) d->fn.vkDestroyPipeline(d->device, pipe, NULL);
	if (layout) d->fn.vkDestroyPipelineLayout(d->device, layout, NULL);
	if (dsl) d->fn.vkDestroyDescriptorSetLayout(d->device, dsl, NULL);
	if (mod) d->fn.vkDestroyShaderModule(d->device, mod, NULL);
}

VkResult cv_create_query_pool(cv_device *d, uint32_t count, VkQueryPool *pool) {
	VkQueryPoolCreateInfo qci = {VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
	qci.queryType = VK_QUERY_TYPE_TIMESTAMP;
	qci.queryCount = count;
	return d->fn.vkCreateQueryPool(d->device, &qci, NULL, pool);
}

void cv_destroy_query_pool(cv_device *d, VkQueryPool pool) {
	if (pool) d->fn.vkDestroyQueryPool(d->device, pool, NULL);
}

VkResult cv_query_results(cv_device *d, VkQueryPool pool, uint32_t first, uint32_t count, uint64_t *out) {
	return d->fn.vkGetQueryPoolResults(d->device, pool, first, count, 8 * (size_t)count, out, 8,
		VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
}

static void barrier(cv_device *d, VkCommandBuffer cb, VkPipelineStageFlags dst_stage, VkAccessFlags dst_access) {
	VkMemoryBarrier mb = {VK_STRUCTURE_TYPE_MEMORY_BARRIER};
	mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
	mb.dstAccessMask = dst_access;
	d->fn.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, dst_stage, 0, 1, &mb,
		0, NULL, 0, NULL);
}

static void record(cv_device *d, VkCommandBuffer cb, const cv_cmd *c) {
	if (c->barrier)
		barrier(d, cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
			VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
				VK_ACCESS_TRANSFER_WRITE_BIT);
	switch (c->kind) {
	case CV_CMD_DISPATCH: {
		VkDescriptorBufferInfo info[CV_MAX_BIND];
		VkWriteDescriptorSet w[CV_MAX_BIND];
		uint32_t n = c->nbind < CV_MAX_BIND ? c->nbind : CV_MAX_BIND;
		for (uint32_t i = 0; i < n; i++) {
			info[i].buffer = (VkBuffer)c->buf[i];
			info[i].offset = c->off[i];
			info[i].range = c->range[i];
			memset(&w[i], 0, sizeof w[i]);
			w[i].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
			w[i].dstBinding = i;
			w[i].descriptorCount = 1;
			w[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
			w[i].pBufferInfo = &info[i];
		}
		d->fn.vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, (VkPipeline)c->pipeline);
		d->fn.vkCmdPushDescriptorSetKHR(cb, VK_PIPELINE_BIND_POINT_COMPUTE, (VkPipelineLayout)c->layout, 0, n, w);
		if (c->push_size)
			d->fn.vkCmdPushConstants(cb, (VkPipelineLayout)c->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, c->push_size, c->push);
		d->fn.vkCmdDispatch(cb, c->groups[0], c->groups[1], c->groups[2]);
		break;
	}
	case CV_CMD_COPY: {
		VkBufferCopy region = {c->off[0], c->off[1], c->range[0]};
		d->fn.vkCmdCopyBuffer(cb, (VkBuffer)c->buf[0], (VkBuffer)c->buf[1], 1, &region);
		break;
	}
	case CV_CMD_FILL:
		d->fn.vkCmdFillBuffer(cb, (VkBuffer)c->buf[0], c->off[0], c->range[0], c->groups[0]);
		break;
	case CV_CMD_TIMESTAMP:
		d->fn.vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, (VkQueryPool)c->pipeline, c->groups[0]);
		break;
	case CV_CMD_RESET_QUERIES:
		d->fn.vkCmdResetQueryPool(cb, (VkQueryPool)c->pipeline, c->groups[0], c->groups[1]);
		break;
	}
}

// A one-time command buffer and a submission's fence come from the spares of
// finished ones when there are any (the pool resets a command buffer when it
// is begun again), and go back there in cv_wait or cv_release_cb.
VkResult cv_record(cv_device *d, const cv_cmd *cmds, uint32_t n, int reusable, int host, VkCommandBuffer *cbp) {
	*cbp = NULL;
	VkCommandBuffer cb;
	VkResult r;
	if (!reusable && d->nspare_cb > 0) {
		cb = d->spare_cb[--d->nspare_cb];
	} else {
		VkCommandBufferAllocateInfo ai = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
		ai.commandPool = d->pool;
		ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
		ai.commandBufferCount = 1;
		r = d->fn.vkAllocateCommandBuffers(d->device, &ai, &cb);
		if (r != VK_SUCCESS) return r;
	}
	VkCommandBufferBeginInfo bi = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
	bi.flags = reusable == 2 ? VK_COMMAND_BUFFER_USAGE_SIMULTANEOUS_USE_BIT
		   : reusable   ? 0
				: VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
	r = d->fn.vkBeginCommandBuffer(cb, &bi);
	if (r != VK_SUCCESS) goto fail;
	for (uint32_t i = 0; i < n; i++) record(d, cb, &cmds[i]);
	// Make every write visible to the host (Read maps staging memory after the fence).
	if (host) barrier(d, cb, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
	r = d->fn.vkEndCommandBuffer(cb);
	if (r != VK_SUCCESS) goto fail;
	*cbp = cb;
	return VK_SUCCESS;
fail:
	d->fn.vkFreeCommandBuffers(d->device, d->pool, 1, &cb);
	return r;
}

VkResult cv_submit_cbs(cv_device *d, const VkCommandBuffer *cbs, uint32_t n, VkFence *fence) {
	*fence = VK_NULL_HANDLE;
	VkResult r;
	if (d->nspare_fence > 0) {
		*fence = d->spare_fence[--d->nspare_fence];
	} else {
		VkFenceCreateInfo fci = {VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
		r = d->fn.vkCreateFence(d->device, &fci, NULL, fence);
		if (r != VK_SUCCESS) return r;
	}
	VkSubmitInfo si = {VK_STRUCTURE_TYPE_SUBMIT_INFO};
	si.commandBufferCount = n;
	si.pCommandBuffers = cbs;
	r = d->fn.vkQueueSubmit(d->queue, 1, &si, *fence);
	if (r != VK_SUCCESS) {
		d->fn.vkDestroyFence(d->device, *fence, NULL);
		*fence = VK_NULL_HANDLE;
	}
	return r;
}

void cv_release_cb(cv_device *d, VkCommandBuffer cb, int spare) {
	if (!cb) return;
	if (spare && d->nspare_cb < CV_SPARE) {
		d->spare_cb[d->nspare_cb++] = cb;
	} else {
		d->fn.vkFreeCommandBuffers(d->device, d->pool, 1, &cb);
	}
}

VkResult cv_submit(cv_device *d, const cv_cmd *cmds, uint32_t n, VkCommandBuffer *cbp, VkFence *fence) {
	*fence = VK_NULL_HANDLE;
	VkResult r = cv_record(d, cmds, n, 0, 1, cbp);
	if (r != VK_SUCCESS) return r;
	r = cv_submit_cbs(d, cbp, 1, fence);
	if (r != VK_SUCCESS) {
		d->fn.vkFreeCommandBuffers(d->device, d->pool, 1, cbp);
		*cbp = NULL;
	}
	return r;
}

VkResult cv_wait(cv_device *d, VkCommandBuffer cb, VkFence fence) {
	VkResult r = VK_SUCCESS;
	if (fence) {
		r = d->fn.vkWaitForFences(d->device, 1, &fence, VK_TRUE, UINT64_MAX);
		if (r == VK_SUCCESS && d->nspare_fence < CV_SPARE &&
			d->fn.vkResetFences(d->device, 1, &fence) == VK_SUCCESS) {
			d->spare_fence[d->nspare_fence++] = fence;
		} else {
			d->fn.vkDestroyFence(d->device, fence, NULL);
		}
	}
	if (cb) {
		if (r == VK_SUCCESS && d->nspare_cb < CV_SPARE) {
			d->spare_cb[d->nspare_cb++] = cb;
		} else {
			d->fn.vkFreeCommandBuffers(d->device, d->pool, 1, &cb);
		}
	}
	return r;
}
