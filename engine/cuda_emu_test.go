//go:build cgo && !nocuda

package engine

import (
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/backend/cuda"
)

// useEmulatedCUDA makes --backend cuda open the emulated device
// (cuda.NewEmulated: the CUDA kernels compiled for the CPU) until the test
// ends, or skips the test saying why neither a GPU (gpuErr) nor the
// emulator is there. Only the CUDA tests call it: auto never meets it.
func useEmulatedCUDA(t *testing.T, gpuErr error) {
	t.Helper()
	b, err := cuda.NewEmulated()
	if err != nil {
		t.Skipf("no CUDA backend here (%v) and no emulator (%v)", gpuErr, err)
	}
	b.Close()
	saved := cudaOpener
	cudaOpener = func(int) (backend.Backend, string, error) {
		b, err := cuda.NewEmulated()
		return b, "emulated on the CPU", err
	}
	t.Cleanup(func() { cudaOpener = saved })
	t.Logf("no CUDA device (%v): the kernels run on the emulator", gpuErr)
}
