//go:build cgo && !nocuda

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/cgo/cuda"
	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// TestCUDAUnavailableIsExplained builds the conveyor binary and runs it
// against a stand-in libcuda with one device (cgo/cuda/testdata/fakecuda.c):
// without NVRTC, --backend cuda fails saying so, auto runs as before and
// mentions it (the memory estimate too), and `conveyor devices` lists the
// CUDA device. The binary must
// not link libcuda or libnvrtc.
func TestCUDAUnavailableIsExplained(t *testing.T) {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skipf("no gcc to build a fake libcuda: %v", err)
	}
	model := testdata.Path(t, "models/stories260K.gguf")
	dir := t.TempDir()
	driver := filepath.Join(dir, "libcuda.so.1")
	out, err := exec.Command(cc, "-shared", "-fPIC", "-o", driver, "../../cgo/cuda/testdata/fakecuda.c").CombinedOutput()
	require.NoError(t, err, "%s", out)
	bin := filepath.Join(dir, "conveyor")
	out, err = exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	out, err = exec.Command("ldd", bin).CombinedOutput()
	if err == nil {
		require.NotContains(t, string(out), "libcuda")
		require.NotContains(t, string(out), "nvrtc")
	}

	run := func(env []string, args ...string) (code int, stdout, stderr string) {
		var o, e bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), append(env, cuda.LibraryEnv+"="+driver)...)
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return code, o.String(), e.String()
	}
	noNVRTC := []string{cuda.NVRTCLibraryEnv + "=/nonexistent/libnvrtc.so"}
	gen := []string{"run", "-m", model, "-p", "Once upon a time", "-n", "8", "--temp", "0", "--backend"}

	code, _, stderr := run(noNVRTC, append(gen, "cuda")...)
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "backend: cuda: no NVRTC library found (tried /nonexistent/libnvrtc.so;")

	code, stdout, stderr := run(noNVRTC, append(gen, "auto")...)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "Once upon a time, there was a little girl\n", stdout)
	require.Equal(t, 1, strings.Count(stderr, "; cuda: no NVRTC library found"), stderr)

	code, stdout, stderr = run(noNVRTC, "devices")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "Fake GPU")
	require.Contains(t, stdout, "sm_86")

	// The memory estimate resolves auto as loading would: no CUDA without NVRTC.
	code, stdout, stderr = run(noNVRTC, "info", "--fit", model)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "backend:  cpu")
	if cuda.LoadNVRTC() == nil { // with NVRTC, the fake device is CUDA's
		code, stdout, stderr = run(nil, "info", "--fit", model)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, "backend:  cuda")
		require.Contains(t, stdout, "Fake GPU")
	}

	code, _, stderr = run(noNVRTC, append(gen, "cuda", "--device", "3")...)
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "no CUDA device 3 (there are 1")
}
