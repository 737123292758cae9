//go:build cgo && !nocuda

package engine

import (
	"fmt"
	"strings"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/backend/cuda"
)

func init() {
	cudaOpener = openCUDA
	cudaLister = listCUDADevices
	cudaReady = cuda.Available
}

// openCUDA opens CUDA device (-1: the first). Its errors start with "cuda: "
// and say why CUDA is unavailable; on a machine without the NVIDIA driver
// the error is a noCUDADriver, which auto does not mention.
func openCUDA(device int) (backend.Backend, string, error) {
	devs, err := cuda.Devices()
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return nil, "", noCUDADriver{err}
		}
		return nil, "", err
	}
	if len(devs) == 0 {
		return nil, "", fmt.Errorf("cuda: the driver found no CUDA device")
	}
	if device >= len(devs) {
		return nil, "", fmt.Errorf("cuda: no CUDA device %d (there are %d; see `conveyor devices`)", device, len(devs))
	}
	b, err := cuda.New(device)
	if err != nil {
		return nil, "", err
	}
	info := b.Info()
	return b, fmt.Sprintf("%s, sm_%d", info.Name, info.Arch()), nil
}

func listCUDADevices() ([]Device, error) {
	devs, err := cuda.Devices()
	if err != nil {
		return nil, err
	}
	out := make([]Device, len(devs))
	for i, d := range devs {
		kind := "discrete"
		if d.Integrated {
			kind = "integrated"
		}
		out[i] = Device{Backend: "cuda", Index: d.Index, Name: d.Name, Type: kind, MemoryBytes: d.Memory,
			SubgroupSize: 32, FP16: true, Int8: d.Arch() >= 61, MaxAllocation: d.Memory,
			API: fmt.Sprintf("sm_%d", d.Arch()), BandwidthGBs: d.BandwidthGBs()}
	}
	return out, nil
}
