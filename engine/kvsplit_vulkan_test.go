//go:build cgo && !novulkan

package engine

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/backend/vulkan"
	"github.com/conveyor-llm/conveyor/cgo/vk"
	"github.com/conveyor-llm/conveyor/internal/testdata"
	"github.com/conveyor-llm/conveyor/model"
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

// With bindings lowered to 16 KiB, the KV cache of 2 sequences of 300
// positions (600 rows a layer: 38 KiB of F16, 20 KiB of Q8_0) is read
// through 3 or 2 windows, and sequence 1's rows cross from one window to the
// next (at position 200 for F16, about 180 for Q8_0). Prefilled with 220
// tokens in pieces of 20, the logits after each piece are the CPU's within
// 2e-3 (as for an unsplit cache: Vulkan's logits differ from the CPU's by
// ulps of their F16 and Q8_0 rounding, see TestStories260KQuantizedKVCache).
func TestVulkanKVCacheAcrossBindings(t *testing.T) {
	vulkanTestOptions = vulkan.Options{MaxBindRange: 16 << 10}
	defer func() { vulkanTestOptions = vulkan.Options{} }()
	want := readExpected(t, "llamacpp-once-upon-a-time.txt")
	story := append(append([]int32(nil), want.PromptIDs...), want.GeneratedIDs...)
	var tokens []int32
	for len(tokens) < 220 {
		tokens = append(tokens, story...)
	}
	tokens = tokens[:220]
	const piece = 20
	logits := func(backendName, cacheType string) [][]float32 {
		m, err := Load(testdata.Path(t, "models/stories260K.gguf"), Options{Backend: backendName})
		require.NoError(t, err)
		defer m.Close()
		s, err := m.NewSession(SessionOptions{Context: 300, Sequences: 2, CacheType: cacheType, BatchSize: piece})
		require.NoError(t, err)
		defer s.Close()
		var all [][]float32
		for lo := 0; lo < len(tokens); lo += piece {
			b := model.Batch{Outputs: []int32{piece - 1}}
			for i := lo; i < lo+piece; i++ {
				b.Tokens, b.Pos, b.Seq = append(b.Tokens, tokens[i]), append(b.Pos, int32(i)), append(b.Seq, 1)
			}
			out, err := s.Forward(b)
			require.NoError(t, err)
			all = append(all, append([]float32(nil), out[0]...))
		}
		return all
	}
	for _, typ := range []string{"f16", "q8_0"} {
		got, ref := logits("vulkan", typ), logits("cpu", typ)
		for i := range ref {
			require.Less(t, logitsRelErr(got[i], ref[i]), 2e-3, "%s cache, after %d tokens", typ, piece*(i+1))
		}
	}
}
