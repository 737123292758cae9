package kernels

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/stretchr/testify/require"
)

// TestKQuantsMatchGgml quantizes testdata/kquants/in.f32 to each K type and
// compares with the bytes ggml's reference quantizers wrote for it (see
// testdata/kquants/README.md), block by block.
func TestKQuantsMatchGgml(t *testing.T) {
	raw, err := os.ReadFile("testdata/kquants/in.f32")
	require.NoError(t, err)
	x := make([]float32, len(raw)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	for _, typ := range []gguf.Type{gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K, gguf.TypeQ8_K} {
		t.Run(typ.String(), func(t *testing.T) {
			want, err := os.ReadFile("testdata/kquants/" + typ.String() + ".bin")
			require.NoError(t, err)
			got := quantize(t, typ, x)
			require.Len(t, got, len(want))
			bb := typ.BlockBytes()
			for b := 0; b < len(want)/bb; b++ {
				g, w := got[b*bb:(b+1)*bb], want[b*bb:(b+1)*bb]
				require.True(t, bytes.Equal(g, w), "block %d:\ngot  %x\nwant %x", b, g, w)
			}
		})
	}
}
