package cuda

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeDriver builds testdata/fakecuda.c into a shared library (extra: more
// cc flags) and returns its path; the test is skipped without a C compiler.
func fakeDriver(t *testing.T, dir string, extra ...string) string {
	t.Helper()
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skipf("no gcc to build a fake libcuda: %v", err)
	}
	out := filepath.Join(t.TempDir(), "libcuda.so.1")
	args := append([]string{"-shared", "-fPIC", "-o", out, filepath.Join(dir, "fakecuda.c")}, extra...)
	if b, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("building the fake driver: %v\n%s", err, b)
	}
	return out
}

// Load loads the driver once per process, so each case runs in a child
// process of this test binary with the fake driver named by LibraryEnv.
func TestADriverItCannotUseIsReportedClearly(t *testing.T) {
	if os.Getenv("FAKE_CUDA_CHILD") != "" {
		devs, err := Devices()
		if err != nil {
			os.Stdout.WriteString("error: " + err.Error() + "\n")
			return
		}
		for _, d := range devs {
			os.Stdout.WriteString("device: " + d.String() + "\n")
		}
		os.Stdout.WriteString("none\n")
		return
	}
	good := fakeDriver(t, "testdata")
	noLaunch := fakeDriver(t, "testdata", "-DFAKE_NO_LAUNCH")
	for name, c := range map[string]struct {
		lib  string
		env  []string
		want string
	}{
		"one device":    {good, nil, "device: 0: Fake GPU (sm_86, 84 SMs, 24.0 GiB)"},
		"no device":     {good, []string{"FAKE_CUDA_DEVICES=0"}, "none"},
		"cuInit fails":  {good, []string{"FAKE_CUDA_INIT=100"}, "error: cuda: cuInit: CUDA_ERROR_NO_DEVICE (the driver is installed, but no usable device)"},
		"missing entry": {noLaunch, nil, "error: " + noLaunch + " is not a usable CUDA driver: no entry point cuLaunchKernel"},
		"no driver":     {"/nonexistent/libcuda.so.1", nil, "error: /nonexistent/libcuda.so.1 not found: cannot open shared object file"},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestADriverItCannotUseIsReportedClearly$")
			cmd.Env = append(os.Environ(), append(c.env, "FAKE_CUDA_CHILD=1", LibraryEnv+"="+c.lib)...)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			first := strings.SplitN(string(out), "\n", 2)[0]
			require.True(t, strings.HasPrefix(first, c.want), "got %q, want %q", first, c.want)
		})
	}
}
