package engine

import (
	"testing"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// gpt-oss is batch invariant: attention sinks, the sliding window (the
// 13-token prompt is longer than its window of 8) and the biased experts do
// not depend on the rest of the batch or on how the prompt is chunked.
func TestGPTOSSBatchInvariance(t *testing.T) {
	for _, b := range gptOSSBackends() {
		t.Run(b, func(t *testing.T) { checkBatchInvariance(t, b, testdata.Path(t, "arch/gpt-oss.gguf")) })
	}
}

// gptOSSBackends are the backends that run gpt-oss.
func gptOSSBackends() []string { return []string{"cpu"} }
