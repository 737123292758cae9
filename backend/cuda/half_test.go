package cuda

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/gguf"
)

// The kernels' half-precision conversions are the CPU's, bit for bit: every
// F16 value read by get_rows (h2f), and F32 values at the edges written by
// kv_write (f2h: ties to even, subnormals, overflow to Inf, signed zeros).
func TestHalfConversionsMatchCPU(t *testing.T) {
	e := newEnv(t)
	all := make([]byte, 2<<16)
	for h := range 1 << 16 {
		binary.LittleEndian.PutUint16(all[2*h:], uint16(h))
	}
	table := e.alloc(gguf.TypeF16, 256, 256)
	e.write(table, all)
	ids := make([]int32, 256)
	for i := range ids {
		ids[i] = int32(i)
	}
	rows := e.i32(ids)
	dst := e.out(256, 256)
	e.gpu.GetRows(dst.g, table.g, rows.g)
	e.cpu.GetRows(dst.c, table.c, rows.c)
	g, c := make([]byte, dst.g.Bytes()), make([]byte, dst.c.Bytes())
	require.NoError(t, e.gpu.Read(dst.g, g))
	require.NoError(t, e.cpu.Read(dst.c, c))
	for h := range 1 << 16 {
		gv, cv := binary.LittleEndian.Uint32(g[4*h:]), binary.LittleEndian.Uint32(c[4*h:])
		if math.IsNaN(float64(math.Float32frombits(cv))) {
			require.True(t, math.IsNaN(float64(math.Float32frombits(gv))), "half %#04x", h)
			continue
		}
		require.Equal(t, cv, gv, "half %#04x", h)
	}

	var edges []float32
	for _, bits := range []uint32{
		0x00000000, 0x80000000, // ±0
		0x33000000, 0x33000001, 0x33800000, // 2^-25 (a tie to 0), just above, 2^-24
		0x387fc000, 0x387fe000, 0x387ff000, // subnormal halves near the smallest normal
		0x38800000, 0x3f800000, 0x3f801000, 0x3f803000, 0x3f802fff, // ties at 1 (even and odd)
		0x477fe000, 0x477fefff, 0x477ff000, 0x47800000, // 65504, just under 65520, 65520 (Inf), 65536
		0x7f800000, 0xff800000, 0x7f7fffff, // ±Inf, the largest float
	} {
		edges = append(edges, math.Float32frombits(bits), -math.Float32frombits(bits))
	}
	for len(edges)%32 != 0 {
		edges = append(edges, float32(len(edges))/7)
	}
	cache := e.alloc(gguf.TypeF16, 1, len(edges))
	src := e.alloc(gguf.TypeF32, 1, len(edges))
	e.write(src, f32bytes(edges)) // no NaN: its payload is not pinned down
	zero := e.i32([]int32{0})
	e.gpu.KVWrite(cache.g, src.g, zero.g)
	e.cpu.KVWrite(cache.c, src.c, zero.c)
	g, c = make([]byte, cache.g.Bytes()), make([]byte, cache.c.Bytes())
	require.NoError(t, e.gpu.Read(cache.g, g))
	require.NoError(t, e.cpu.Read(cache.c, c))
	for i, v := range edges {
		require.Equal(t, binary.LittleEndian.Uint16(c[2*i:]), binary.LittleEndian.Uint16(g[2*i:]), "%g (%#08x)", v, math.Float32bits(v))
	}
}
