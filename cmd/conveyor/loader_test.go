//go:build cgo && !novulkan

package main

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/cgo/vk"
	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// TestRunsWithoutVulkanLoader builds the conveyor binary and checks that it
// does not link libvulkan (the Vulkan loader is dlopened), then runs it with
// the loader hidden: --backend cpu and auto generate on the CPU, auto saying
// why in one line; --backend vulkan and `conveyor devices` fail saying why.
func TestRunsWithoutVulkanLoader(t *testing.T) {
	model := testdata.Path(t, "models/stories260K.gguf")
	bin := filepath.Join(t.TempDir(), "conveyor")
	build := exec.Command("go", "build", "-o", bin, ".") // go test puts its go first on PATH
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	f, err := elf.Open(bin)
	require.NoError(t, err)
	libs, err := f.ImportedLibraries()
	f.Close()
	require.NoError(t, err)
	for _, l := range libs {
		require.NotContains(t, l, "vulkan", "conveyor links %v", libs)
	}

	const missing = "/nonexistent/libvulkan.so.1"
	why := "vulkan: " + missing + " not found: cannot open shared object file"
	conveyorBin := func(args ...string) (code int, stdout, stderr string) {
		var o, e bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), vk.LibraryEnv+"="+missing, vk.ValidateEnv+"=")
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
	gen := []string{"run", "-m", model, "-p", "Once upon a time", "-n", "8", "--temp", "0", "--backend"}

	code, stdout, stderr := conveyorBin(append(gen, "cpu")...)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "Once upon a time, there was a little girl\n", stdout)
	require.NotContains(t, stderr, "vulkan")

	code, stdout, stderr = conveyorBin(append(gen, "auto")...)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "Once upon a time, there was a little girl\n", stdout)
	require.Equal(t, 1, strings.Count(stderr, "backend: cpu ("+why), stderr)

	code, _, stderr = conveyorBin(append(gen, "vulkan")...)
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "backend: "+why)

	code, _, stderr = conveyorBin("devices")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "conveyor devices: "+why)
}
