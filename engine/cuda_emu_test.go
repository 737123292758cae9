//go:build cgo && !nocuda

package engine

import (
	"os"
	"slices"
	"testing"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/backend/cuda"
)

// cudaEmulated is set while a test runs the CUDA backend on the emulator.
var cudaEmulated bool

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
	cudaEmulated = true
	t.Cleanup(func() { cudaOpener, cudaEmulated = saved, false })
	t.Logf("no CUDA device (%v): the kernels run on the emulator", gpuErr)
}

// emulatedSubset says whether a CUDA test runs on the emulator and should
// keep to a few cases that reach every kernel (the emulator is slow: each
// block's threads are fibers); cuda.EmulatorEnv=all runs them all.
func emulatedSubset() bool {
	return cudaEmulated && os.Getenv(cuda.EmulatorEnv) != "all"
}

// emulatedOnly skips case name on the emulator unless it is one of keep.
func emulatedOnly(t *testing.T, name string, keep ...string) {
	t.Helper()
	if emulatedSubset() && !slices.Contains(keep, name) {
		t.Skipf("emulated CUDA runs %v only (%s=all for every case)", keep, cuda.EmulatorEnv)
	}
}
