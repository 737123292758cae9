//go:build cgo && !novulkan

package engine

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/backend/vulkan"
	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// Expert stacks larger than one binding (here 100 KiB: qwen3moe's F32
// stacks of 8 experts then take 3 windows, mixtral's F16 ones 8) are
// multiplied a window at a time on the device: the steps are kept for
// replay as many as with one binding, and every logit is the same bits,
// replayed or recorded afresh.
func TestVulkanMoEStacksAcrossBindings(t *testing.T) {
	for _, arch := range []string{"qwen3moe", "mixtral"} {
		t.Run(arch, func(t *testing.T) {
			path := testdata.Path(t, "arch/"+arch+".gguf")
			whole := decodeLogits(t, path, "")
			vulkanTestOptions = vulkan.Options{MaxBindRange: 100 << 10}
			defer func() { vulkanTestOptions = vulkan.Options{} }()
			for _, plain := range []string{"", "1"} {
				split := decodeLogits(t, path, plain)
				require.Equal(t, len(whole), len(split))
				last := len(whole) - 1
				if plain == "" {
					require.Equal(t, whole[last], split[last], "steps kept for replay")
				}
				for i := range last {
					require.Equal(t, whole[i], split[i], "fresh %q, step %d", plain, i)
				}
			}
		})
	}
}
