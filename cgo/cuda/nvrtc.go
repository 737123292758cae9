package cuda

/*
#include <stdlib.h>
#include "cu.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"unsafe"
)

// NVRTCLibraryEnv names the environment variable that, when set, is the only
// NVRTC library tried (a file name or path for dlopen).
const NVRTCLibraryEnv = "CONVEYOR_NVRTC_LIBRARY"

var (
	nvOnce sync.Once
	nvErr  error
	nvName string
	nvMu   sync.Mutex // NVRTC programs are independent, but keep compiles simple
)

// nvrtcSonames are tried by name, so dlopen searches the library path.
var nvrtcSonames = []string{"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"}

// NVRTCCandidates lists the NVRTC libraries LoadNVRTC tries, in order: the
// sonames on the library path, then those beside an installed PyTorch (pip's
// nvidia-cuda-nvrtc package, site-packages/nvidia/cuda_nvrtc/lib) under the
// Python prefixes in sitePackages.
func NVRTCCandidates(sitePackages []string) []string {
	if s := os.Getenv(NVRTCLibraryEnv); s != "" {
		return []string{s}
	}
	out := append([]string(nil), nvrtcSonames...)
	for _, sp := range sitePackages {
		libs, _ := filepath.Glob(filepath.Join(sp, "nvidia", "cuda_nvrtc", "lib", "libnvrtc.so*"))
		sort.Sort(sort.Reverse(sort.StringSlice(libs))) // the newest soname first
		for _, l := range libs {
			if !strings.Contains(filepath.Base(l), "builtins") {
				out = append(out, l)
			}
		}
	}
	return out
}

// SitePackages lists the Python package folders where pip puts PyTorch's
// CUDA libraries: under the active virtual environment or conda, the user's
// and the system's Python prefixes.
func SitePackages() []string {
	var prefixes []string
	for _, env := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if p := os.Getenv(env); p != "" {
			prefixes = append(prefixes, p)
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		prefixes = append(prefixes, filepath.Join(home, ".local"))
	}
	prefixes = append(prefixes, "/usr/local", "/usr", "/opt/conda")
	var out []string
	for _, p := range prefixes {
		for _, kind := range []string{"site-packages", "dist-packages"} {
			m, _ := filepath.Glob(filepath.Join(p, "lib", "python3*", kind))
			out = append(out, m...)
		}
	}
	return out
}

// LoadNVRTC loads an NVRTC of NVRTCCandidates(SitePackages()), once per
// process, and says why none can be used. Where the driver is loaded, it
// takes the newest NVRTC no newer than the driver (PTX from a newer one is
// refused by the driver: CUDA_ERROR_UNSUPPORTED_PTX_VERSION), else the first.
func LoadNVRTC() error {
	nvOnce.Do(func() {
		cands := NVRTCCandidates(SitePackages())
		var found []nvrtcFound
		var unusable []string
		for _, name := range cands {
			if strings.Contains(name, "/") {
				preloadBuiltins(filepath.Dir(name))
			}
			cs := C.CString(name)
			var maj, min C.int
			r := C.nv_probe(cs, &maj, &min)
			C.free(unsafe.Pointer(cs))
			switch r {
			case 0:
				found = append(found, nvrtcFound{name, int(maj), int(min)})
			case 2:
				unusable = append(unusable, name+": no nvrtcVersion")
			}
		}
		pick := chooseNVRTC(found, driverVersion)
		if pick < 0 {
			msg := "no NVRTC library found (tried " + strings.Join(cands, ", ") +
				"; install the CUDA toolkit's libnvrtc, e.g. Debian's libnvrtc11.2 or pip's nvidia-cuda-nvrtc-cu12)"
			if len(unusable) > 0 {
				msg += "; unusable: " + strings.Join(unusable, "; ")
			}
			nvErr = errors.New(msg)
			return
		}
		name := found[pick].name
		cs := C.CString(name)
		r := C.nv_load(cs)
		C.free(unsafe.Pointer(cs))
		if r != 0 {
			nvErr = fmt.Errorf("%s cannot be loaded: %s", name, C.GoString(C.nv_load_error()))
			return
		}
		nvName = name
	})
	return nvErr
}

// nvrtcFound is an NVRTC library and its version.
type nvrtcFound struct {
	name         string
	major, minor int
}

// chooseNVRTC is the index in found of the NVRTC to use with a driver of
// CUDA version driver (12040 for 12.4; 0 unknown): the newest no newer than
// the driver, else (all newer) the oldest; with the driver unknown, the
// first. -1 when found is empty.
func chooseNVRTC(found []nvrtcFound, driver int) int {
	if len(found) == 0 {
		return -1
	}
	if driver <= 0 {
		return 0
	}
	version := func(f nvrtcFound) int { return f.major*1000 + f.minor*10 }
	best, oldest := -1, 0
	for i, f := range found {
		if v := version(f); v <= driver && (best < 0 || v > version(found[best])) {
			best = i
		}
		if version(f) < version(found[oldest]) {
			oldest = i
		}
	}
	if best < 0 {
		return oldest
	}
	return best
}

// preloadBuiltins loads the libnvrtc-builtins beside an NVRTC outside the
// library path (pip's), which NVRTC would otherwise look for there only.
func preloadBuiltins(dir string) {
	libs, _ := filepath.Glob(filepath.Join(dir, "libnvrtc-builtins.so*"))
	for _, l := range libs {
		cs := C.CString(l)
		ok := C.nv_preload(cs)
		C.free(unsafe.Pointer(cs))
		if ok == 1 {
			return
		}
	}
}

// NVRTCLibrary is the NVRTC library LoadNVRTC loaded.
func NVRTCLibrary() string { return nvName }

// NVRTCVersion is the loaded NVRTC's version.
func NVRTCVersion() (major, minor int) {
	var a, b C.int
	if C.nv_version(&a, &b) != 0 {
		return 0, 0
	}
	return int(a), int(b)
}

// SupportedArchs lists the sm numbers NVRTC compiles for, ascending; nil
// when it cannot say.
func SupportedArchs() []int {
	buf := make([]C.int, 64)
	n := int(C.nv_archs(&buf[0], C.int(len(buf))))
	if n <= 0 {
		return nil
	}
	out := make([]int, n)
	for i := range out {
		out[i] = int(buf[i])
	}
	sort.Ints(out)
	return out
}

// Compile compiles CUDA C source to PTX with NVRTC options (e.g.
// "--gpu-architecture=compute_80"); the log is NVRTC's, warnings included.
func Compile(src, name string, opts []string) (ptx []byte, log string, err error) {
	if err := LoadNVRTC(); err != nil {
		return nil, "", err
	}
	nvMu.Lock()
	defer nvMu.Unlock()
	csrc, cname := C.CString(src), C.CString(name)
	defer C.free(unsafe.Pointer(csrc))
	defer C.free(unsafe.Pointer(cname))
	copts := make([]*C.char, max(len(opts), 1))
	for i, o := range opts {
		copts[i] = C.CString(o)
		defer C.free(unsafe.Pointer(copts[i]))
	}
	coptsC := (**C.char)(C.malloc(C.size_t(len(copts)) * C.size_t(unsafe.Sizeof(copts[0]))))
	defer C.free(unsafe.Pointer(coptsC))
	copy(unsafe.Slice(coptsC, len(copts)), copts)
	var out, clog *C.char
	var n C.size_t
	r := C.nv_compile(csrc, cname, coptsC, C.int(len(opts)), &out, &n, &clog)
	if clog != nil {
		log = strings.TrimSpace(C.GoString(clog))
		C.free(unsafe.Pointer(clog))
	}
	if r != 0 {
		msg := C.GoString(C.nv_error(r))
		if log != "" {
			msg += ":\n" + log
		}
		return nil, log, fmt.Errorf("nvrtc: compiling %s: %s", name, msg)
	}
	ptx = C.GoBytes(unsafe.Pointer(out), C.int(n))
	C.free(unsafe.Pointer(out))
	return ptx, log, nil
}
