package synth

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
	"github.com/stretchr/testify/require"
)

// TestIQ4Types: synth writes IQ4_NL and IQ4_XS weights with llama.cpp's
// general.file_type for the mix (25, 30); rows that do not divide into the
// type's blocks (ffn_down here: rows of 96 values, not IQ4_XS's 256) stay
// F32. The weights dequantize to about the intended spread, 1/sqrt(cols):
// 4-bit quantization moves the RMS by a few percent (10% allowed).
func TestIQ4Types(t *testing.T) {
	for _, c := range []struct {
		typ gguf.Type
		ft  uint64
	}{{gguf.TypeIQ4_NL, 25}, {gguf.TypeIQ4_XS, 30}} {
		t.Run(c.typ.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.gguf")
			require.NoError(t, Write(path, Config{Arch: "llama", Dim: 256, Layers: 1, Heads: 4, FFN: 96, VocabSize: 300, Type: c.typ, Seed: 1}))
			f, err := gguf.Open(path)
			require.NoError(t, err)
			defer f.Close()
			v, ok := f.Lookup("general.file_type")
			require.True(t, ok)
			ft, err := v.Uint()
			require.NoError(t, err)
			require.Equal(t, c.ft, ft)

			q, ok := f.Tensor("blk.0.attn_q.weight")
			require.True(t, ok)
			require.Equal(t, c.typ, q.Type)
			down, ok := f.Tensor("blk.0.ffn_down.weight")
			require.True(t, ok)
			want := c.typ
			if c.typ.BlockSize() > 96 {
				want = gguf.TypeF32
			}
			require.Equal(t, want, down.Type)

			x := make([]float32, q.Elements())
			kernels.DequantizeRow(q.Type, x, f.TensorData(q))
			var ss float64
			for _, v := range x {
				ss += float64(v) * float64(v)
			}
			rms := math.Sqrt(ss / float64(len(x)))
			require.InDelta(t, 1/math.Sqrt(256), rms, 0.1/math.Sqrt(256))
		})
	}
}
