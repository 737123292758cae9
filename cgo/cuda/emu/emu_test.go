//go:build cgo

package emu

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// A module exercising what the header emulates: warp shuffles, block
// barriers over shared memory, threads that return early, and a barrier
// only some threads reach.
const testKernels = `
typedef long long i64;
extern "C" __global__ void butterfly(float *out, int n) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (threadIdx.x / 32 == 1) return; // the second warp leaves at once
	float v = (float)i;
	for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	if (i < n) out[i] = v;
}

extern "C" __global__ void reverse(int *data, i64 n) {
	__shared__ int s[256];
	int t = threadIdx.x;
	s[t] = data[blockIdx.x * blockDim.x + t];
	__syncthreads();
	data[blockIdx.x * blockDim.x + t] = s[blockDim.x - 1 - t];
	__syncthreads();
	if (t >= 64) return;
	s[t] = 0;
	__syncthreads(); // only the first 64 threads are left
}

extern "C" __global__ void early(float *out) {
	if (threadIdx.x == 5) return;
	out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}

extern "C" __global__ void divergent(int *out) {
	if (threadIdx.x == 0) __syncthreads();
	else __shfl_xor_sync(0xffffffffu, 1, 1);
	out[0] = 1;
}
`

func compileTest(t *testing.T) (*Module, *Memory) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	m, err := Compile(testKernels, []Kernel{{"butterfly", "u64,u32"}, {"reverse", "u64,u64"}, {"divergent", "u64"}, {"early", "u64"}})
	require.NoError(t, err)
	mem := NewMemory()
	t.Cleanup(mem.FreeAll)
	return m, mem
}

func args(vals ...uint64) []byte {
	b := make([]byte, 192)
	for i, v := range vals {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	return b
}

func TestWarpShufflesSumTheirLanes(t *testing.T) {
	m, mem := compileTest(t)
	const blocks, threads = 3, 96
	out, err := mem.Alloc(4 * blocks * threads)
	require.NoError(t, err)
	poison := make([]byte, 4*blocks*threads)
	for i := range poison {
		poison[i] = 0xff
	}
	require.NoError(t, mem.Write(out, poison))
	a := args(out, blocks*threads) // n as the low half of the second u64: u32 at offset 8
	require.NoError(t, m.Launch("butterfly", [3]uint32{blocks, 1, 1}, [3]uint32{threads, 1, 1}, a))
	got := make([]byte, 4*blocks*threads)
	require.NoError(t, mem.Read(got, out))
	for i := range blocks * threads {
		v := math.Float32frombits(binary.LittleEndian.Uint32(got[4*i:]))
		if i%threads/32 == 1 {
			require.True(t, math.IsNaN(float64(v)), "thread %d returned before writing", i)
			continue
		}
		base := i / 32 * 32
		require.Equal(t, float32(32*base+496), v, "thread %d", i)
	}
}

func TestBlockBarriersShareMemory(t *testing.T) {
	m, mem := compileTest(t)
	const blocks, threads = 4, 256
	p, err := mem.Alloc(4 * blocks * threads)
	require.NoError(t, err)
	data := make([]byte, 4*blocks*threads)
	for i := range blocks * threads {
		binary.LittleEndian.PutUint32(data[4*i:], uint32(i))
	}
	require.NoError(t, mem.Write(p, data))
	require.NoError(t, m.Launch("reverse", [3]uint32{blocks, 1, 1}, [3]uint32{threads, 1, 1}, args(p, blocks*threads)))
	require.NoError(t, mem.Read(data, p))
	for i := range blocks * threads {
		want := i/threads*threads + threads - 1 - i%threads
		require.Equal(t, uint32(want), binary.LittleEndian.Uint32(data[4*i:]), "element %d", i)
	}
}

func TestDivergentBarriersAreReported(t *testing.T) {
	m, mem := compileTest(t)
	p, err := mem.Alloc(4)
	require.NoError(t, err)
	err = m.Launch("divergent", [3]uint32{1, 1, 1}, [3]uint32{32, 1, 1}, args(p))
	require.ErrorContains(t, err, "deadlock")
	// The module still runs launches after one failed.
	require.NoError(t, m.Launch("butterfly", [3]uint32{1, 1, 1}, [3]uint32{32, 1, 1}, args(p, 1)))
}

func TestALaneLeavingAShuffleIsReported(t *testing.T) {
	m, mem := compileTest(t)
	p, err := mem.Alloc(4 * 32)
	require.NoError(t, err)
	err = m.Launch("early", [3]uint32{1, 1, 1}, [3]uint32{32, 1, 1}, args(p))
	require.ErrorContains(t, err, "returned while its warp waits at a shuffle")
}

func TestMemoryChecksBounds(t *testing.T) {
	mem := NewMemory()
	defer mem.FreeAll()
	p, err := mem.Alloc(100)
	require.NoError(t, err)
	require.Zero(t, p%256)
	require.NoError(t, mem.Write(p+90, make([]byte, 10)))
	require.ErrorContains(t, mem.Write(p+91, make([]byte, 10)), "outside every buffer")
	require.NoError(t, mem.Free(p))
	require.ErrorContains(t, mem.Free(p), "not allocated")
}
