package cuda

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func TestCommandMatchesTheCLayout(t *testing.T) {
	require.Equal(t, uintptr(commandSize), unsafe.Sizeof(Command{}))
	var c Command
	require.Equal(t, uintptr(48), unsafe.Offsetof(c.Args), "args offset as cu_cmd's")
}

func TestArgsAlignEachParameterToItsSize(t *testing.T) {
	var a Args
	a.I32(7).Ptr(0x1122334455667788).F32(1.5).Int(-3).U64(9)
	b := a.Bytes()
	// int at 0, pad to 8, pointer at 8, float at 16, int at 20, u64 at 24.
	require.Len(t, b, 32)
	require.Equal(t, uint32(7), binary.LittleEndian.Uint32(b[0:]))
	require.Equal(t, uint64(0x1122334455667788), binary.LittleEndian.Uint64(b[8:]))
	require.Equal(t, float32(1.5), math.Float32frombits(binary.LittleEndian.Uint32(b[16:])))
	require.Equal(t, int32(-3), int32(binary.LittleEndian.Uint32(b[20:])))
	require.Equal(t, uint64(9), binary.LittleEndian.Uint64(b[24:]))
	require.NoError(t, a.Err())
	require.Equal(t, "u32,u64,f32,u32,u64", a.Signature())

	c, err := Launch(1, [3]uint32{2, 1, 1}, [3]uint32{64, 1, 1}, 0, &a)
	require.NoError(t, err)
	require.Equal(t, uint32(32), c.ArgSize)
	require.Equal(t, b, c.Args[:32])
}

func TestArgsRefuseOverflowAndOutOfRangeInts(t *testing.T) {
	var a Args
	for range MaxArgBytes/8 + 1 {
		a.Ptr(1)
	}
	require.ErrorContains(t, a.Err(), "exceed 192 bytes")
	_, err := Launch(1, [3]uint32{1, 1, 1}, [3]uint32{1, 1, 1}, 0, &a)
	require.Error(t, err)

	var b Args
	b.Int(1 << 40)
	require.ErrorContains(t, b.Err(), "does not fit an int")

	var c Args
	_, err = Launch(1, [3]uint32{0, 1, 1}, [3]uint32{1, 1, 1}, 0, &c)
	require.ErrorContains(t, err, "grid")
}

func TestNVRTCCandidatesFindPyTorchsCopy(t *testing.T) {
	t.Setenv(NVRTCLibraryEnv, "")
	sp := t.TempDir()
	lib := filepath.Join(sp, "nvidia", "cuda_nvrtc", "lib")
	require.NoError(t, os.MkdirAll(lib, 0o755))
	for _, f := range []string{"libnvrtc.so.12", "libnvrtc-builtins.so.12.4"} {
		require.NoError(t, os.WriteFile(filepath.Join(lib, f), nil, 0o644))
	}
	c := NVRTCCandidates([]string{sp})
	require.Equal(t, nvrtcSonames, c[:len(nvrtcSonames)], "the library path first")
	require.Equal(t, []string{filepath.Join(lib, "libnvrtc.so.12")}, c[len(nvrtcSonames):])

	t.Setenv(NVRTCLibraryEnv, "/x/libnvrtc.so")
	require.Equal(t, []string{"/x/libnvrtc.so"}, NVRTCCandidates([]string{sp}))
}

// TestLoadSaysWhyCUDAIsUnavailable runs where there is no driver (CI) and
// where there is one; either way Load's answer is clear.
func TestLoadSaysWhyCUDAIsUnavailable(t *testing.T) {
	err := Load()
	if err == nil {
		devs, err := Devices()
		require.NoError(t, err)
		t.Logf("CUDA driver %d, devices %v", DriverVersion(), devs)
		return
	}
	t.Logf("no CUDA: %v", err)
	require.True(t, strings.Contains(err.Error(), "libcuda") || strings.Contains(err.Error(), "CUDA") ||
		strings.Contains(err.Error(), "cuInit"), err.Error())
	_, err2 := Devices()
	require.Equal(t, err, err2)
	_, err3 := Open(0)
	require.Equal(t, err, err3)
}

func TestCompileProducesPTXWithTheEntryPoint(t *testing.T) {
	if err := LoadNVRTC(); err != nil {
		t.Skipf("no NVRTC: %v", err)
	}
	maj, min := NVRTCVersion()
	t.Logf("NVRTC %d.%d from %s, archs %v", maj, min, NVRTCLibrary(), SupportedArchs())
	src := `extern "C" __global__ void twice(float *x, int n) { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) x[i] *= 2; }`
	ptx, _, err := Compile(src, "twice.cu", []string{"--gpu-architecture=compute_80"})
	require.NoError(t, err)
	require.Contains(t, string(ptx), ".entry twice(")
	require.Contains(t, string(ptx), ".target sm_80")

	_, log, err := Compile("this is not CUDA", "bad.cu", nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "bad.cu")
	require.NotEmpty(t, log)
}

func TestChooseNVRTCPrefersTheNewestTheDriverReads(t *testing.T) {
	found := []nvrtcFound{{"a", 12, 8}, {"b", 11, 8}, {"c", 12, 4}, {"d", 12, 2}}
	require.Equal(t, 2, chooseNVRTC(found, 12040), "12.4 driver: 12.4")
	require.Equal(t, 0, chooseNVRTC(found, 12080), "12.8 driver: 12.8")
	require.Equal(t, 1, chooseNVRTC(found, 12000), "12.0 driver: 11.8")
	require.Equal(t, 1, chooseNVRTC(found, 11040), "all newer: the oldest")
	require.Equal(t, 0, chooseNVRTC(found, 0), "driver unknown: the first")
	require.Equal(t, -1, chooseNVRTC(nil, 12040))
}
