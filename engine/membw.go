package engine

import (
	"runtime"
	"strings"

	"github.com/conveyor-llm/conveyor/kernels"
)

// DecodeWeightBytes is how many bytes of weights one decoded token reads:
// every tensor of the file but the lookup tables a token reads one row of
// (the token and position embeddings), unless the embedding doubles as the
// output projection (no output.weight), which reads it whole. Of a stack
// of experts (a 3-D "_exps" tensor) a token reads only the experts it uses:
// expert_used_count of expert_count.
func (m *Model) DecodeWeightBytes() int64 {
	_, tied := m.file.Tensor("output.weight")
	tied = !tied
	h := m.arch.Hyper()
	used, experts := int64(h.ExpertsUsed), int64(h.Experts)
	var n int64
	for _, t := range m.file.Tensors {
		lookup := t.Name == "token_embd.weight" || strings.HasPrefix(t.Name, "position_embd.")
		if lookup && !(tied && t.Name == "token_embd.weight") {
			continue
		}
		b := int64(t.Bytes())
		if experts > 0 && len(t.Dims) == 3 && strings.Contains(t.Name, "_exps.") {
			b = b / int64(experts) * int64(used)
		}
		n += b
	}
	return n
}

// ReadBandwidth is the machine's streaming read rate in bytes per second on
// threads threads (0: one per core), over a 512 MiB buffer, best of 3
// passes: what decode at the memory wall would reach. It allocates and
// touches the buffer, so call it after anything that measures peak memory.
func ReadBandwidth(threads int) float64 {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	return kernels.ReadBandwidth(threads, 512<<20, 3)
}
