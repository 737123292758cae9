//go:build cgo && !novulkan

package engine

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/cgo/vk"
	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// A KV cache larger than the Vulkan backend's attention reads (a few
// bindings of maxStorageBufferRange: 5 x 128 MiB on lavapipe) is refused
// with the numbers before anything is allocated, not at the first forward
// pass; a smaller one of several bindings is taken (their reading is
// TestKVCacheSplitOverBindings in backend/vulkan).
func TestVulkanRefusesAKVCacheBeyondItsBindings(t *testing.T) {
	m, err := Load(testdata.Path(t, "models/stories260K.gguf"), Options{Backend: "vulkan"})
	require.NoError(t, err)
	defer m.Close()
	before := vk.TotalAllocatedBytes()
	// 20M positions of 32 F32 values: 2.4 GiB a layer for the keys.
	_, err = m.NewSession(SessionOptions{Context: 20_000_000, CacheType: "f32", BatchSize: 8})
	require.Error(t, err)
	require.Contains(t, err.Error(), "attention reads")
	require.Contains(t, err.Error(), "20000000 positions")
	require.Equal(t, before, vk.TotalAllocatedBytes(), "nothing is allocated")
}
