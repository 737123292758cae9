package vulkan

import (
	"errors"
	"fmt"

	"github.com/conveyor-llm/conveyor/cgo/vk"
)

// DeviceInfo describes one Vulkan device, for `conveyor devices`.
type DeviceInfo struct {
	Index        int
	Name         string
	Type         string // discrete, integrated, virtual, cpu or other
	Memory       uint64 // bytes of device-local heaps
	SubgroupSize int
	FP16, Int8   bool // shaderFloat16, shaderInt8
	// MaxStorageBufferRange is the most one shader binding can see; larger
	// tensors are bound a window at a time.
	MaxStorageBufferRange   uint64
	MaxMemoryAllocationSize uint64
	APIVersion              string
	PushDescriptor          bool // VK_KHR_push_descriptor, which this backend needs
}

func (d DeviceInfo) String() string {
	return fmt.Sprintf("%d: %s (%s, %.1f GiB, Vulkan %s, subgroup %d, fp16 %v, int8 %v)", d.Index, d.Name, d.Type,
		float64(d.Memory)/(1<<30), d.APIVersion, d.SubgroupSize, d.FP16, d.Int8)
}

// ErrNoDevice is returned when the Vulkan loader finds no device at all.
var ErrNoDevice = errors.New("vulkan: no Vulkan device found (install a driver: the GPU vendor's, or mesa-vulkan-drivers for lavapipe on the CPU)")

func typeName(t int) string {
	switch t {
	case vk.TypeDiscrete:
		return "discrete"
	case vk.TypeIntegrated:
		return "integrated"
	case vk.TypeVirtual:
		return "virtual"
	case vk.TypeCPU:
		return "cpu"
	}
	return "other"
}

func infoOf(i int, p *vk.Properties) DeviceInfo {
	return DeviceInfo{
		Index:                   i,
		Name:                    p.Name,
		Type:                    typeName(p.Type),
		Memory:                  p.DeviceLocalBytes(),
		SubgroupSize:            int(p.SubgroupSize),
		FP16:                    p.Float16,
		Int8:                    p.Int8,
		MaxStorageBufferRange:   p.MaxStorageBufferRange,
		MaxMemoryAllocationSize: p.MaxMemoryAllocationSize,
		APIVersion:              p.APIString(),
		PushDescriptor:          p.PushDescriptor,
	}
}

// Devices lists the Vulkan devices in the loader's order.
func Devices() ([]DeviceInfo, error) {
	in, err := vk.NewInstance()
	if err != nil {
		return nil, fmt.Errorf("vulkan: %w", err)
	}
	defer in.Destroy()
	pds, err := in.PhysicalDevices()
	if err != nil {
		return nil, fmt.Errorf("vulkan: %w", err)
	}
	out := make([]DeviceInfo, len(pds))
	for i := range pds {
		out[i] = infoOf(i, &pds[i].Props)
	}
	return out, nil
}

// pick chooses device index want, or for -1 the best: discrete, then
// integrated, then virtual, then CPU-type (lavapipe), then other.
func pick(pds []vk.PhysicalDevice, want int) (int, error) {
	if len(pds) == 0 {
		return 0, ErrNoDevice
	}
	if want >= 0 {
		if want >= len(pds) {
			return 0, fmt.Errorf("vulkan: device %d does not exist (%d found)", want, len(pds))
		}
		return want, nil
	}
	rank := map[int]int{vk.TypeDiscrete: 0, vk.TypeIntegrated: 1, vk.TypeVirtual: 2, vk.TypeCPU: 3}
	best, bestRank := -1, 99
	for i, pd := range pds {
		if !pd.Props.PushDescriptor {
			continue
		}
		r, ok := rank[pd.Props.Type]
		if !ok {
			r = 4
		}
		if r < bestRank {
			best, bestRank = i, r
		}
	}
	if best < 0 {
		return 0, fmt.Errorf("vulkan: none of the %d devices supports VK_KHR_push_descriptor", len(pds))
	}
	return best, nil
}
