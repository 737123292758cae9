package shaders

import (
	"embed"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// The CUDA kernels: cuda/NAME.cu, each compiled at first use by NVRTC (see
// backend/cuda) with cuda/common.cuh in front of it.
//
//go:embed cuda/*.cu cuda/common.cuh
var cudaFiles embed.FS

// CUDAModules lists the CUDA kernel files by name ("matmul"), sorted.
func CUDAModules() []string {
	ents, _ := cudaFiles.ReadDir("cuda")
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".cu"); ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// CUDASource is the complete source NVRTC compiles for module name:
// common.cuh, then NAME.cu.
func CUDASource(name string) (string, error) {
	body, err := cudaFiles.ReadFile("cuda/" + name + ".cu")
	if err != nil {
		return "", fmt.Errorf("shaders: no CUDA module %q", name)
	}
	common, err := cudaFiles.ReadFile("cuda/common.cuh")
	if err != nil {
		return "", err
	}
	return string(common) + "\n#line 1 \"" + name + ".cu\"\n" + string(body), nil
}

// CUDAEntryPoints lists the kernels module name defines: its
// `extern "C" __global__` functions, and the kernels a macro whose body
// declares one expands to (a line NAME(kernel, ...) after #define NAME(...)).
func CUDAEntryPoints(name string) ([]string, error) {
	src, err := cudaFiles.ReadFile("cuda/" + name + ".cu")
	if err != nil {
		return nil, fmt.Errorf("shaders: no CUDA module %q", name)
	}
	var out []string
	macros := map[string]bool{}
	lines := strings.Split(string(src), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if m, ok := strings.CutPrefix(line, "#define "); ok {
			body := line
			for strings.HasSuffix(strings.TrimSpace(lines[i]), "\\") && i+1 < len(lines) {
				i++
				body += lines[i]
			}
			if j := strings.IndexByte(m, '('); j > 0 && strings.Contains(body, "__global__") {
				macros[m[:j]] = true
			}
			continue
		}
		if k := kernelDecl.FindStringSubmatch(line); k != nil {
			out = append(out, k[1])
			continue
		}
		if j := strings.IndexByte(line, '('); j > 0 && macros[line[:j]] {
			args := strings.Split(line[j+1:], ",")
			out = append(out, strings.TrimSpace(strings.TrimSuffix(args[0], ")")))
		}
	}
	return out, nil
}

var kernelDecl = regexp.MustCompile(`^extern "C" __global__ (?:void )?(?:__launch_bounds__\([^)]*\) )?(?:void )?(\w+)\(`)
