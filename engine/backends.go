package engine

import (
	"fmt"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/backend/cpu"
)

// gpuOpener opens a Vulkan device (index -1: the best one). It is set by
// backends_vulkan.go when the binary is built with Vulkan support.
var gpuOpener func(device int, allowCPUDevice bool) (backend.Backend, string, error)

// MaxThreads is the most CPU threads a backend takes.
const MaxThreads = 4096

// OpenBackend opens the backend opts name. "auto" picks a real GPU when there is
// one, never a CPU-emulated Vulkan device (lavapipe is slower than our CPU
// backend), and says why in one log line, e.g. "backend: cpu (vulkan:
// libvulkan.so.1 not found: ...)" on a machine without the Vulkan loader.
// "cpu" never loads Vulkan.
func OpenBackend(opts Options) (backend.Backend, error) {
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if opts.Threads < 0 || opts.Threads > MaxThreads {
		return nil, fmt.Errorf("engine: %d CPU threads: 0 (one per core) to %d", opts.Threads, MaxThreads)
	}
	device := -1
	if opts.DeviceSet {
		device = opts.Device
	}
	switch opts.Backend {
	case "", "auto":
		if gpuOpener == nil {
			logf("backend: cpu (this build has no Vulkan support)")
			return cpu.New(opts.Threads), nil
		}
		b, why, err := gpuOpener(device, false)
		if err != nil {
			logf("backend: cpu (%v)", err)
			return cpu.New(opts.Threads), nil
		}
		logf("backend: vulkan (%s)", why)
		return b, nil
	case "cpu":
		return cpu.New(opts.Threads), nil
	case "vulkan":
		if gpuOpener == nil {
			return nil, fmt.Errorf("backend: vulkan: this build has no Vulkan support (built without cgo or with the novulkan tag)")
		}
		b, _, err := gpuOpener(device, true)
		if err != nil {
			return nil, fmt.Errorf("backend: %w", err) // err starts with "vulkan: "
		}
		return b, nil
	default:
		return nil, fmt.Errorf("backend: unknown backend %q (auto, cpu, vulkan)", opts.Backend)
	}
}

// Device is a Vulkan device as `conveyor devices` lists it.
type Device struct {
	Index        int    `json:"index"`
	Name         string `json:"name"`
	Type         string `json:"type"` // discrete, integrated, virtual, cpu, other
	MemoryBytes  uint64 `json:"memory_bytes"`
	SubgroupSize int    `json:"subgroup_size"`
	FP16         bool   `json:"fp16"`
	Int8         bool   `json:"int8"`
	// MaxBufferRange is maxStorageBufferRange; MaxAllocation is maxMemoryAllocationSize.
	MaxBufferRange uint64 `json:"max_storage_buffer_range"`
	MaxAllocation  uint64 `json:"max_allocation"`
	API            string `json:"api_version"`
}

// deviceLister is set by backends_vulkan.go in builds with Vulkan support.
var deviceLister func() ([]Device, error)

// Devices lists the Vulkan devices, numbered as Options.Device takes them.
func Devices() ([]Device, error) {
	if deviceLister == nil {
		return nil, fmt.Errorf("backend: vulkan: this build has no Vulkan support (built without cgo or with the novulkan tag)")
	}
	return deviceLister()
}
