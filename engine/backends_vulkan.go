//go:build cgo && !novulkan

package engine

import (
	"errors"
	"fmt"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/backend/vulkan"
)

// vulkanTestOptions are the options of the Vulkan backends Load opens: zero,
// but for tests that lower the device's limits.
var vulkanTestOptions vulkan.Options

func init() {
	gpuOpener = openVulkan
	deviceLister = listVulkanDevices
}

// openVulkan opens device (-1: the best). Unless allowCPU, a CPU-emulated
// device such as lavapipe is refused: the CPU backend is faster than it.
// Its errors start with "vulkan: " and say why Vulkan is unavailable, e.g.
// "vulkan: libvulkan.so.1 not found: ..." where the Vulkan loader is missing.
func openVulkan(device int, allowCPU bool) (backend.Backend, string, error) {
	devs, err := vulkan.Devices()
	if err != nil {
		return nil, "", err
	}
	if len(devs) == 0 {
		return nil, "", errors.New("vulkan: no Vulkan device")
	}
	if device >= len(devs) {
		return nil, "", fmt.Errorf("vulkan: no Vulkan device %d (there are %d; see `conveyor devices`)", device, len(devs))
	}
	if device < 0 && !allowCPU {
		device = -1
		for _, kind := range []string{"discrete", "integrated"} {
			for _, d := range devs {
				if d.Type == kind && device < 0 {
					device = d.Index
				}
			}
		}
		if device < 0 {
			return nil, "", fmt.Errorf("vulkan: no GPU among the Vulkan devices (%s is CPU-emulated and slower than the CPU backend)", devs[0].Name)
		}
	}
	b, err := vulkan.NewWithOptions(device, vulkanTestOptions)
	if err != nil {
		return nil, "", err
	}
	info := b.Info()
	return b, fmt.Sprintf("%s, a %s GPU", info.Name, info.Type), nil
}

func listVulkanDevices() ([]Device, error) {
	devs, err := vulkan.Devices()
	if err != nil {
		return nil, err
	}
	out := make([]Device, len(devs))
	for i, d := range devs {
		out[i] = Device{Backend: "vulkan", Index: d.Index, Name: d.Name, Type: d.Type, MemoryBytes: d.Memory, SubgroupSize: d.SubgroupSize,
			FP16: d.FP16, Int8: d.Int8, MaxBufferRange: d.MaxStorageBufferRange, MaxAllocation: d.MaxMemoryAllocationSize, API: d.APIVersion}
	}
	return out, nil
}
