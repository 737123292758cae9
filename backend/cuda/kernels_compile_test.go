package cuda

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	cu "github.com/conveyor-llm/conveyor/cgo/cuda"
	"github.com/conveyor-llm/conveyor/shaders"
)

// TestKernelsCompileWithNVRTC compiles every CUDA kernel module with NVRTC
// for sm_75, sm_80 and sm_90 and checks the PTX defines each kernel the source
// declares. It needs only libnvrtc (CI installs Debian's libnvrtc11.2), no
// GPU; without NVRTC it is skipped with the reason.
func TestKernelsCompileWithNVRTC(t *testing.T) {
	if err := cu.LoadNVRTC(); err != nil {
		if os.Getenv("CONVEYOR_REQUIRE_NVRTC") == "1" {
			t.Fatalf("NVRTC unavailable, but CONVEYOR_REQUIRE_NVRTC=1: %v", err)
		}
		t.Skipf("NVRTC unavailable: %v", err)
	}
	maj, min := cu.NVRTCVersion()
	t.Logf("NVRTC %d.%d (%s)", maj, min, cu.NVRTCLibrary())
	entry := regexp.MustCompile(`\.entry\s+(\w+)\(`)
	for _, arch := range []int{75, 80, 90} { // T4, A100, H100
		for _, module := range shaders.CUDAModules() {
			t.Run(fmt.Sprintf("sm_%d/%s", arch, module), func(t *testing.T) {
				src, err := shaders.CUDASource(module)
				require.NoError(t, err)
				ptx, log, err := cu.Compile(src, module+".cu", options(arch))
				require.NoError(t, err)
				require.Empty(t, log, "NVRTC warnings")
				require.Contains(t, string(ptx), fmt.Sprintf(".target sm_%d", arch))
				var got []string
				for _, m := range entry.FindAllStringSubmatch(string(ptx), -1) {
					got = append(got, m[1])
				}
				want, err := shaders.CUDAEntryPoints(module)
				require.NoError(t, err)
				require.NotEmpty(t, want)
				require.ElementsMatch(t, want, got)
				for _, k := range want {
					sig, ok := signatureOf(k)
					require.True(t, ok, "kernel %s has no entry in kernelSignatures", k)
					require.Equal(t, sig, ptxSignature(t, string(ptx), k), "kernel %s", k)
				}
			})
		}
	}
}

// ptxSignature is the types of kernel's parameters as the PTX declares them:
// ".entry NAME(\n\t.param .u64 NAME_param_0,\n...)" gives "u64,...".
func ptxSignature(t *testing.T, ptx, kernel string) string {
	start := strings.Index(ptx, ".entry "+kernel+"(")
	require.GreaterOrEqual(t, start, 0)
	end := strings.Index(ptx[start:], ")")
	var types []string
	for _, m := range paramDecl.FindAllStringSubmatch(ptx[start:start+end], -1) {
		types = append(types, m[1])
	}
	return strings.Join(types, ",")
}

var paramDecl = regexp.MustCompile(`\.param\s+\.(\w+)\s+\w+_param_\d+`)
