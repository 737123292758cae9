package kernels

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/internal/testdata"
	"github.com/stretchr/testify/require"
)

// TestQ8_0MatchesLlamaCpp quantizes every F32 tensor of stories260K.gguf whose
// counterpart in stories260K-q8_0.gguf (made by llama.cpp's quantizer) is Q8_0,
// and compares the bytes.
func TestQ8_0MatchesLlamaCpp(t *testing.T) {
	src, err := gguf.Open(testdata.Path(t, "models/stories260K.gguf"))
	require.NoError(t, err)
	defer src.Close()
	ref, err := gguf.Open(testdata.Path(t, "models/stories260K-q8_0.gguf"))
	require.NoError(t, err)
	defer ref.Close()

	compared := 0
	for _, ti := range src.Tensors {
		if ti.Type != gguf.TypeF32 {
			continue
		}
		rt, ok := ref.Tensor(ti.Name)
		if !ok || rt.Type != gguf.TypeQ8_0 {
			continue
		}
		require.Equal(t, ti.Dims, rt.Dims, ti.Name)
		raw := src.TensorData(ti)
		want := ref.TensorData(rt)
		require.NotNil(t, raw, ti.Name)
		require.NotNil(t, want, ti.Name)
		x := make([]float32, ti.Elements())
		for i := range x {
			x[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		got := quantize(t, gguf.TypeQ8_0, x)
		if !bytes.Equal(want, got) {
			for i := range got {
				if got[i] != want[i] {
					b := i / blockQ8_0
					t.Fatalf("%s: first difference at byte %d (block %d, offset %d): got %#02x want %#02x\nvalues %v",
						ti.Name, i, b, i%blockQ8_0, got[i], want[i], x[b*qk8_0:(b+1)*qk8_0])
				}
			}
		}
		compared++
	}
	t.Logf("%d tensors byte-identical", compared)
	require.NotZero(t, compared, "no Q8_0 tensors with an F32 counterpart")
}
