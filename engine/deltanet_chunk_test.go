package engine

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/backend/cpu"
	"github.com/conveyor-llm/conveyor/internal/testdata"
	"github.com/conveyor-llm/conveyor/model"
)

// Past several DeltaNet chunks (backend.DeltaNetChunk): a hybrid model's
// logits are bit-identical for a prompt in one batch, split at positions that
// are not chunk boundaries beside another sequence, and then decoded token by
// token; and the CPU's chunkwise DeltaNet agrees with its token-by-token
// recurrence within ‖chunk−rec‖/‖rec‖ ≤ 2e-4 on the logits (the op differs by
// ~3e-7, float32 sums in another order; the random-weight models amplify it
// through their layers to 6e-6..8e-5).
func TestHybridChunkwiseLongPrompt(t *testing.T) {
	const n = 3*backend.DeltaNetChunk + 21
	r := rand.New(rand.NewPCG(4, 5))
	prompt, other := make([]int32, n), make([]int32, n)
	for i := range prompt {
		prompt[i], other[i] = int32(260+r.IntN(200)), int32(260+r.IntN(200))
	}
	for name := range hybridArch {
		t.Run(name, func(t *testing.T) {
			logits := map[bool][]float32{}
			for _, byToken := range []bool{false, true} {
				m, err := Load(testdata.Path(t, "arch/"+name+".gguf"), Options{Backend: "cpu", Threads: 2})
				require.NoError(t, err)
				defer m.Close()
				m.backend.(*cpu.Backend).DeltaNetByToken(byToken)
				s, err := m.NewSession(SessionOptions{Context: 256, Sequences: 2, BatchSize: 256})
				require.NoError(t, err)
				defer s.Close()

				out, err := s.Forward(seqBatchOf(prompt, 0, 0))
				require.NoError(t, err)
				whole := append([]float32(nil), out[0]...)
				logits[byToken] = whole

				var split []float32
				cuts := []int{0, 5, backend.DeltaNetChunk + 2, backend.DeltaNetChunk + 3, 2*backend.DeltaNetChunk - 1, n}
				for i := 0; i+1 < len(cuts); i++ {
					lo, hi := cuts[i], cuts[i+1]
					var b model.Batch
					for p := lo; p < hi; p++ {
						b.Tokens, b.Pos, b.Seq = append(b.Tokens, other[p], prompt[p]), append(b.Pos, int32(p), int32(p)), append(b.Seq, 0, 1)
					}
					b.Outputs = []int32{int32(len(b.Tokens) - 1)}
					out, err = s.Forward(b)
					require.NoError(t, err)
					split = append(split[:0], out[0]...)
				}
				require.Equal(t, whole, split, "by token %v: split at %v beside another sequence", byToken, cuts)

				// Decoding on, past the next chunk boundary, equals a longer prompt.
				more := prompt[:n]
				for p := n; p < n+backend.DeltaNetChunk+3; p++ {
					tok := int32(260 + r.IntN(200))
					more = append(more, tok)
					out, err = s.Forward(seqBatchOf([]int32{tok}, p, 1))
					require.NoError(t, err)
				}
				decoded := append([]float32(nil), out[0]...)
				out, err = s.Forward(seqBatchOf(more, 0, 0))
				require.NoError(t, err)
				require.Equal(t, out[0], decoded, "by token %v: decoded past a chunk boundary", byToken)
			}
			var num, den float64
			for i, w := range logits[true] {
				d := float64(logits[false][i] - w)
				num, den = num+d*d, den+float64(w)*float64(w)
			}
			e := math.Sqrt(num / den)
			t.Logf("%s: chunkwise against the recurrence, logits after %d tokens: %.2g", name, n, e)
			require.LessOrEqual(t, e, 2e-4)
		})
	}
}
