// Package vk is Conveyor's own thin binding to the Vulkan C API, just wide
// enough for compute: an instance (optionally with the Khronos validation layer
// and a debug messenger that counts errors and warnings), physical devices and
// their properties, a device with one compute queue, buffers, compute
// pipelines with push descriptors, push constants and specialization
// constants, timestamp queries, and command submission.
//
// The hot path crosses cgo once per submission: callers append commands to a
// Commands list on the Go side (plain integers, no pointers) and Submit hands
// the whole list to one C function that records a command buffer and submits
// it. Vulkan structs that point at each other are built in C.
//
// The binary does not link libvulkan: the first NewInstance (or Load) dlopens
// the Vulkan loader, libvulkan.so.1 (else libvulkan.so, or the file
// CONVEYOR_VULKAN_LIBRARY names), so a machine without it runs everything but
// Vulkan, and Load says why Vulkan is unavailable.
package vk

/*
#cgo LDFLAGS: -ldl
#cgo CFLAGS: -DVK_USE_64_BIT_PTR_DEFINES=0 -O2
#include <stdlib.h>
#include "cv.h"
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// LibraryEnv names the environment variable that, when set, is the only
// Vulkan loader tried (a file name for dlopen), in place of libvulkan.so.1 and
// libvulkan.so. Tests hide the loader by pointing it at a missing file.
const LibraryEnv = "CONVEYOR_VULKAN_LIBRARY"

var (
	loadMu  sync.Mutex
	loaded  atomic.Bool
	loadErr error
)

// Load loads the Vulkan loader once per process and reports why it cannot be
// used, e.g. "libvulkan.so.1 not found: ...". Later calls return the first
// call's result without trying again.
func Load() error {
	if loaded.Load() {
		return nil
	}
	loadMu.Lock()
	defer loadMu.Unlock()
	if loaded.Load() || loadErr != nil {
		return loadErr
	}
	names := []string{"libvulkan.so.1", "libvulkan.so"}
	if s := os.Getenv(LibraryEnv); s != "" {
		names = []string{s}
	}
	if loadErr = loadLibrary(names); loadErr == nil {
		loaded.Store(true)
	}
	return loadErr
}

// Loaded reports whether the Vulkan loader has been loaded into this process.
func Loaded() bool { return loaded.Load() }

// loadLibrary tries names in order and returns the first one's error when
// none loads. A failure leaves the process as it was.
func loadLibrary(names []string) error {
	var first error
	for _, name := range names {
		cs := C.CString(name)
		r := C.cv_load(cs)
		C.free(unsafe.Pointer(cs))
		if r == 0 {
			return nil
		}
		msg := strings.TrimPrefix(C.GoString(C.cv_load_error()), name+": ")
		var err error
		switch {
		case r == 2:
			err = fmt.Errorf("%s is not a usable Vulkan loader: %s", name, msg)
		case strings.Contains(msg, "No such file"):
			err = fmt.Errorf("%s not found: %s (install the Vulkan loader, e.g. the libvulkan1 package)", name, msg)
		default:
			err = fmt.Errorf("%s cannot be loaded: %s", name, msg)
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// Error is a failed Vulkan call.
type Error struct {
	Op     string
	Result int32
}

func (e *Error) Error() string { return fmt.Sprintf("vk: %s: %s", e.Op, resultName(e.Result)) }

func resultName(r int32) string {
	switch r {
	case -1:
		return "VK_ERROR_OUT_OF_HOST_MEMORY"
	case -2:
		return "VK_ERROR_OUT_OF_DEVICE_MEMORY"
	case -3:
		return "VK_ERROR_INITIALIZATION_FAILED"
	case -4:
		return "VK_ERROR_DEVICE_LOST"
	case -6:
		return "VK_ERROR_LAYER_NOT_PRESENT"
	case -7:
		return "VK_ERROR_EXTENSION_NOT_PRESENT"
	case -8:
		return "VK_ERROR_FEATURE_NOT_PRESENT"
	case -9:
		return "VK_ERROR_INCOMPATIBLE_DRIVER"
	}
	return fmt.Sprintf("VkResult(%d)", r)
}

// missingEntry is CV_ERROR_MISSING_ENTRY: the loader or driver lacks an entry point.
const missingEntry = C.CV_ERROR_MISSING_ENTRY

func check(op string, r C.VkResult) error {
	if r == missingEntry {
		return fmt.Errorf("vk: %s: no entry point %s in the Vulkan loader or driver", op, C.GoString(C.cv_missing()))
	}
	if r != C.VK_SUCCESS {
		return &Error{op, int32(r)}
	}
	return nil
}

// ValidateEnv is the environment variable that turns on validation ("1").
const ValidateEnv = "CONVEYOR_VK_VALIDATE"

// ValidationRequested reports whether CONVEYOR_VK_VALIDATE=1.
func ValidationRequested() bool { return os.Getenv(ValidateEnv) == "1" }

// ValidationCounts is the number of validation errors and warnings reported
// so far by every validating instance in this process.
func ValidationCounts() (errors, warnings int64) {
	return int64(C.cv_validation_errors()), int64(C.cv_validation_warnings())
}

// Instance is a VkInstance.
type Instance struct {
	c        *C.cv_instance
	validate bool
}

// NewInstance creates an instance for Vulkan 1.2, with validation when
// ValidationRequested; asking for validation without the layer installed is an
// error. It loads the Vulkan loader first (see Load) and returns Load's error
// as it is when that fails.
func NewInstance() (*Instance, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	in := &Instance{c: (*C.cv_instance)(C.calloc(1, C.sizeof_cv_instance)), validate: ValidationRequested()}
	v := C.int(0)
	if in.validate {
		v = 1
	}
	if err := check("vkCreateInstance", C.cv_create_instance(v, in.c)); err != nil {
		C.free(unsafe.Pointer(in.c))
		if in.validate {
			return nil, fmt.Errorf("%w (validation requested by %s=1: is VK_LAYER_KHRONOS_validation installed?)", err, ValidateEnv)
		}
		return nil, fmt.Errorf("%w (is a Vulkan driver installed?)", err)
	}
	return in, nil
}

// Validating reports whether the validation layer is on.
func (in *Instance) Validating() bool { return in.validate }

// Destroy releases the instance.
func (in *Instance) Destroy() {
	if in.c != nil {
		C.cv_destroy_instance(in.c)
		C.free(unsafe.Pointer(in.c))
		in.c = nil
	}
}

// Device types, as VkPhysicalDeviceType.
const (
	TypeOther      = 0
	TypeIntegrated = 1
	TypeDiscrete   = 2
	TypeVirtual    = 3
	TypeCPU        = 4
)

// Heap is a memory heap.
type Heap struct {
	Size        uint64
	DeviceLocal bool
}

// Properties describes a physical device.
type Properties struct {
	Name                            string
	Type                            int
	APIVersion                      uint32
	DriverVersion, VendorID, DevID  uint32
	SubgroupSize                    uint32
	SubgroupArithmetic              bool // subgroupAdd etc. in compute shaders
	Float16, Int8                   bool // shaderFloat16, shaderInt8
	Storage16, Storage8             bool // 16/8-bit storage buffer access
	MaxStorageBufferRange           uint64
	MaxMemoryAllocationSize         uint64
	MinStorageBufferOffsetAlignment uint64
	MaxComputeWorkGroupSize         [3]uint32
	MaxComputeWorkGroupInvocations  uint32
	MaxPushConstantsSize            uint32
	TimestampPeriod                 float32 // nanoseconds per timestamp tick
	Heaps                           []Heap
	PushDescriptor, MemoryBudget    bool
	IntegerDot                      bool // shaderIntegerDotProduct (packed 4x8-bit dot products)
}

// APIString is the API version as "major.minor.patch".
func (p *Properties) APIString() string {
	v := p.APIVersion
	return fmt.Sprintf("%d.%d.%d", v>>22&0x7f, v>>12&0x3ff, v&0xfff)
}

// DeviceLocalBytes is the total size of the device-local heaps.
func (p *Properties) DeviceLocalBytes() uint64 {
	var n uint64
	for _, h := range p.Heaps {
		if h.DeviceLocal {
			n += h.Size
		}
	}
	return n
}

// PhysicalDevice is a VkPhysicalDevice and its properties.
type PhysicalDevice struct {
	h     C.VkPhysicalDevice
	Props Properties
}

// PhysicalDevices lists the instance's devices in the driver's order.
func (in *Instance) PhysicalDevices() ([]PhysicalDevice, error) {
	var n C.uint32_t
	if err := check("vkEnumeratePhysicalDevices", C.cv_physical_devices(in.c, nil, &n)); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	hs := (*[64]C.VkPhysicalDevice)(C.calloc(64, C.size_t(unsafe.Sizeof(C.VkPhysicalDevice(nil)))))
	defer C.free(unsafe.Pointer(hs))
	if n > 64 {
		n = 64
	}
	if r := C.cv_physical_devices(in.c, &hs[0], &n); r != C.VK_SUCCESS && r != C.VK_INCOMPLETE {
		return nil, check("vkEnumeratePhysicalDevices", r)
	}
	out := make([]PhysicalDevice, n)
	var p C.cv_props
	for i := range out {
		C.cv_properties(in.c, hs[i], &p)
		out[i] = PhysicalDevice{h: hs[i], Props: convProps(&p)}
	}
	return out, nil
}

func convProps(p *C.cv_props) Properties {
	q := Properties{
		Name:                            C.GoString(&p.name[0]),
		Type:                            int(p._type),
		APIVersion:                      uint32(p.api_version),
		DriverVersion:                   uint32(p.driver_version),
		VendorID:                        uint32(p.vendor_id),
		DevID:                           uint32(p.device_id),
		SubgroupSize:                    uint32(p.subgroup_size),
		SubgroupArithmetic:              p.subgroup_ops&C.VK_SUBGROUP_FEATURE_ARITHMETIC_BIT != 0 && p.subgroup_stages&C.VK_SHADER_STAGE_COMPUTE_BIT != 0,
		Float16:                         p.fp16 != 0,
		Int8:                            p.int8 != 0,
		Storage16:                       p.storage16 != 0,
		Storage8:                        p.storage8 != 0,
		MaxStorageBufferRange:           uint64(p.max_storage_range),
		MaxMemoryAllocationSize:         uint64(p.max_alloc),
		MinStorageBufferOffsetAlignment: uint64(p.min_storage_align),
		MaxComputeWorkGroupInvocations:  uint32(p.max_wg_invocations),
		MaxPushConstantsSize:            uint32(p.max_push),
		TimestampPeriod:                 float32(p.timestamp_period),
		PushDescriptor:                  p.push_descriptor != 0,
		IntegerDot:                      p.int_dot != 0,
		MemoryBudget:                    p.memory_budget != 0,
	}
	for i := range 3 {
		q.MaxComputeWorkGroupSize[i] = uint32(p.max_wg_size[i])
	}
	for i := 0; i < int(p.heap_count); i++ {
		q.Heaps = append(q.Heaps, Heap{uint64(p.heap_size[i]), p.heap_flags[i]&C.VK_MEMORY_HEAP_DEVICE_LOCAL_BIT != 0})
	}
	if q.MaxMemoryAllocationSize == 0 { // Vulkan 1.0/1.1 driver: the spec's guaranteed minimum
		q.MaxMemoryAllocationSize = 1 << 30
	}
	return q
}

// Process-wide counts of live devices and device memory, so tests can check
// that closing a model gives everything back.
var (
	liveDevices    atomic.Int64
	totalAllocated atomic.Int64
)

// LiveDevices is the number of devices opened and not yet destroyed, and
// TotalAllocatedBytes the device memory all of them hold.
func LiveDevices() int64         { return liveDevices.Load() }
func TotalAllocatedBytes() int64 { return totalAllocated.Load() }

// Device is a VkDevice with one compute queue and a command pool.
type Device struct {
	c         *C.cv_device
	Props     Properties
	allocated atomic.Int64
	buffers   atomic.Int64
	// For Submit, reused so that a submission allocates nothing: finished
	// submissions, the list of command buffers to submit, and a command
	// buffer holding only the barrier that makes writes visible to the host.
	spareSubs   []*Submission
	cbs         []C.VkCommandBuffer
	hostBarrier C.VkCommandBuffer
	submitNanos int64 // in vkQueueSubmit (SubmitNanos)
}

// NewDevice opens pd. It needs VK_KHR_push_descriptor.
func (in *Instance) NewDevice(pd PhysicalDevice) (*Device, error) {
	d := &Device{c: (*C.cv_device)(C.calloc(1, C.sizeof_cv_device)), Props: pd.Props}
	if err := check("vkCreateDevice", C.cv_create_device(in.c, pd.h, d.c)); err != nil {
		C.free(unsafe.Pointer(d.c))
		return nil, fmt.Errorf("%w (%s; needs a compute queue and VK_KHR_push_descriptor)", err, pd.Props.Name)
	}
	liveDevices.Add(1)
	return d, nil
}

// Destroy waits for the device to go idle and releases it. Buffers and
// pipelines must have been freed first.
func (d *Device) Destroy() {
	if d.c != nil {
		C.cv_destroy_device(d.c)
		C.free(unsafe.Pointer(d.c))
		d.c = nil
		liveDevices.Add(-1)
	}
}

// TimestampBits is the compute queue's timestampValidBits (0: no timestamps).
func (d *Device) TimestampBits() int { return int(d.c.timestamp_bits) }

// AllocatedBytes is the device memory this Device holds now (buffers made by
// NewBuffer and not yet freed), and LiveBuffers their count.
func (d *Device) AllocatedBytes() int64 { return d.allocated.Load() }

// LiveBuffers is the number of buffers made and not yet freed.
func (d *Device) LiveBuffers() int64 { return d.buffers.Load() }

// HeapUsage is VK_EXT_memory_budget's usage per heap, or nil without it.
func (d *Device) HeapUsage() []uint64 {
	var budget, usage [16]C.uint64_t
	n := int(C.cv_heap_budget(d.c, &budget[0], &usage[0], 16))
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(usage[i])
	}
	return out
}

// Buffer is a VkBuffer with its own memory, usable as a storage buffer and as
// a transfer source and destination. Host buffers are mapped, coherent memory.
type Buffer struct {
	Handle uint64
	mem    uint64
	Size   int64
	Host   bool
	mapped unsafe.Pointer
	// coherent: the memory is host-visible and coherent (a device buffer
	// too on a UMA device such as lavapipe), so HostView can map it.
	coherent bool
}

// Bytes is a host buffer's mapped memory (nil for device buffers not mapped
// by HostView).
func (b *Buffer) Bytes() []byte {
	if b.mapped == nil {
		return nil
	}
	return unsafe.Slice((*byte)(b.mapped), b.Size)
}

// NewBuffer allocates size bytes: device-local memory, or host-visible
// coherent memory (mapped) when host is true.
func (d *Device) NewBuffer(size int64, host bool) (*Buffer, error) {
	if size <= 0 {
		return nil, fmt.Errorf("vk: buffer size %d", size)
	}
	var buf C.VkBuffer
	var mem C.VkDeviceMemory
	var mapped unsafe.Pointer
	h := C.int(0)
	if host {
		h = 1
	}
	var coherent C.int
	if err := check("create buffer", C.cv_create_buffer(d.c, C.uint64_t(size), h, &buf, &mem, &mapped, &coherent)); err != nil {
		return nil, fmt.Errorf("%w (%d bytes)", err, size)
	}
	d.allocated.Add(size)
	totalAllocated.Add(size)
	d.buffers.Add(1)
	return &Buffer{Handle: uint64(buf), mem: uint64(mem), Size: size, Host: host, mapped: mapped, coherent: coherent != 0}, nil
}

// HostView is b's memory mapped for the host, mapping a device buffer on
// first use, when its memory is host-visible and coherent: host writes to it
// are then seen by commands submitted after them, with no copy. It is nil
// where the memory is not host-visible (a discrete GPU's VRAM).
func (d *Device) HostView(b *Buffer) []byte {
	if b.mapped == nil && b.coherent && b.Handle != 0 {
		var p unsafe.Pointer
		if C.cv_map(d.c, C.VkDeviceMemory(b.mem), &p) == C.VK_SUCCESS {
			b.mapped = p
		}
	}
	return b.Bytes()
}

// FreeBuffer releases b; the GPU must be done with it.
func (d *Device) FreeBuffer(b *Buffer) {
	if b == nil || b.Handle == 0 {
		return
	}
	C.cv_destroy_buffer(d.c, C.VkBuffer(b.Handle), C.VkDeviceMemory(b.mem))
	d.allocated.Add(-b.Size)
	totalAllocated.Add(-b.Size)
	d.buffers.Add(-1)
	*b = Buffer{}
}
