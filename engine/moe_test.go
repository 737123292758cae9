package engine

import (
	"testing"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// The mixture-of-experts models are batch invariant too: a token's experts
// and every expert's outputs do not depend on the other tokens of the batch,
// nor on which other tokens chose the same experts.
func TestMoEBatchInvariance(t *testing.T) {
	for _, b := range testBackends() {
		t.Run(b, func(t *testing.T) {
			for _, name := range []string{"qwen3moe", "mixtral"} {
				t.Run(name, func(t *testing.T) { checkBatchInvariance(t, b, testdata.Path(t, "arch/"+name+".gguf")) })
			}
		})
	}
}
