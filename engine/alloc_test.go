package engine

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/model"
)

// Decoding a token allocates nothing once the session is warm: the CPU
// backend's ops, its pool, the model's state and Session.Forward reuse their memory.
func TestDecodeAllocatesNothing(t *testing.T) {
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeF16} {
		t.Run(typ.String(), func(t *testing.T) {
			m, err := Load(synthModel(t, typ), Options{Backend: "cpu", Threads: 2})
			require.NoError(t, err)
			defer m.Close()
			s, err := m.NewSession(SessionOptions{Context: 256, BatchSize: 8})
			require.NoError(t, err)
			defer s.Close()
			_, err = s.Forward(seqBatch([]int32{1, 2, 3, 4, 5, 6, 7, 8}, 0))
			require.NoError(t, err)
			// Warm up to position 140, so that the scratch sized by the
			// context (grown to powers of two) fits the 50 tokens measured.
			pos := []int32{8}
			batch := model.Batch{Tokens: []int32{9}, Pos: pos, Seq: []int32{0}, Outputs: []int32{0}}
			for ; pos[0] < 140; pos[0]++ {
				_, err := s.Forward(batch)
				require.NoError(t, err)
			}
			var err2 error
			allocs := testing.AllocsPerRun(50, func() {
				if _, err := s.Forward(batch); err != nil {
					err2 = err
				}
				pos[0]++
			})
			require.NoError(t, err2)
			require.Zero(t, allocs, "allocations per decoded token")
		})
	}
}
