package engine

import (
	"fmt"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/backend/cpu"
)

// gpuOpener opens a Vulkan device (index -1: the best one). It is set by
// backends_vulkan.go when the binary is built with Vulkan support.
var gpuOpener func(device int, allowCPUDevice bool) (backend.Backend, string, error)

// cudaOpener opens a CUDA device (index -1: the first) and cudaLister lists
// them; backends_cuda.go sets both when the binary is built with CUDA support.
var (
	cudaOpener func(device int) (backend.Backend, string, error)
	cudaLister func() ([]Device, error)
	// cudaReady says why the CUDA backend cannot open here (no driver,
	// device or NVRTC), or nil.
	cudaReady func() error
)

// noCUDADriver is CUDA's error on a machine without the NVIDIA driver, which
// auto passes over in silence (most machines have none).
type noCUDADriver struct{ error }

func (e noCUDADriver) Unwrap() error { return e.error }

// MaxThreads is the most CPU threads a backend takes.
const MaxThreads = 4096

// OpenBackend opens the backend opts name. "auto" picks a real GPU when there is
// one, never a CPU-emulated Vulkan device (lavapipe is slower than our CPU
// backend), and says why in one log line, e.g. "backend: cpu (vulkan:
// libvulkan.so.1 not found: ...)" on a machine without the Vulkan loader.
// "cpu" never loads Vulkan. Where CUDA works (an NVIDIA GPU with its driver
// and NVRTC), auto prefers it to Vulkan; --device then numbers CUDA devices.
func OpenBackend(opts Options) (backend.Backend, error) { return openBackend(opts, false) }

// openBackend is OpenBackend; with skipCUDA, auto does not try CUDA (a model
// the CUDA backend cannot run).
func openBackend(opts Options, skipCUDA bool) (backend.Backend, error) {
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
		cudaNote := ""
		if cudaOpener != nil && !skipCUDA {
			b, why, err := cudaOpener(device)
			if err == nil {
				logf("backend: cuda (%s)", why)
				return b, nil
			}
			if _, absent := err.(noCUDADriver); !absent {
				cudaNote = "; " + err.Error()
			}
		}
		if gpuOpener == nil {
			logf("backend: cpu (this build has no Vulkan support%s)", cudaNote)
			return cpu.New(opts.Threads), nil
		}
		b, why, err := gpuOpener(device, false)
		if err != nil {
			logf("backend: cpu (%v%s)", err, cudaNote)
			return cpu.New(opts.Threads), nil
		}
		logf("backend: vulkan (%s%s)", why, cudaNote)
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
	case "cuda":
		if cudaOpener == nil {
			return nil, fmt.Errorf("backend: cuda: this build has no CUDA support (built without cgo or with the nocuda tag)")
		}
		b, _, err := cudaOpener(device)
		if err != nil {
			return nil, fmt.Errorf("backend: %w", err) // err starts with "cuda: "
		}
		return b, nil
	default:
		return nil, fmt.Errorf("backend: unknown backend %q (auto, cpu, vulkan, cuda)", opts.Backend)
	}
}

// Device is a Vulkan or CUDA device as `conveyor devices` lists it.
type Device struct {
	Backend      string `json:"backend"` // vulkan or cuda; Index counts each's devices
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
	// BandwidthGBs is the memory bandwidth the device's clock and bus
	// promise, GB/s (CUDA devices only).
	BandwidthGBs float64 `json:"bandwidth_gbs,omitempty"`
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

// CUDADevices lists the CUDA devices, numbered as Options.Device takes them
// with Backend "cuda".
func CUDADevices() ([]Device, error) {
	if cudaLister == nil {
		return nil, fmt.Errorf("backend: cuda: this build has no CUDA support (built without cgo or with the nocuda tag)")
	}
	return cudaLister()
}
