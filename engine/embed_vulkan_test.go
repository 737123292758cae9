//go:build cgo && !novulkan

package engine

import "testing"

// The encoders' bidirectional attention is the Vulkan attention shader with
// each query's span at its input's last position: no shader of its own.
func TestEmbedParityVulkan(t *testing.T) { checkEmbedParity(t, "vulkan") }

// Two models (lavapipe takes about a second a pass): bidirectional with RoPE
// and mean pooling, and the reranker's head.
func TestEmbedBatchInvarianceVulkan(t *testing.T) {
	checkEmbedInvariance(t, "vulkan", "nomic-bert", "bert-rerank")
}
