//go:build cgo && !novulkan

package engine

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

func TestFitDeviceBudget(t *testing.T) {
	if _, err := Devices(); err != nil {
		t.Skip(err)
	}
	path := testdata.Path(t, "models/stories260K-q8_0.gguf")
	t.Setenv("CONVEYOR_VK_BUDGET", "64K")
	_, err := Load(path, Options{Backend: "vulkan", Session: SessionOptions{Context: 64}})
	require.ErrorContains(t, err, "of device memory (weights")
	require.ErrorContains(t, err, "64.0 KiB (CONVEYOR_VK_BUDGET)")
	require.ErrorContains(t, err, "the CPU backend (--backend cpu")

	t.Setenv("CONVEYOR_VK_BUDGET", "64M")
	m, err := Load(path, Options{Backend: "vulkan", Session: SessionOptions{Context: 64}})
	require.NoError(t, err)
	require.NoError(t, m.Close())
}
