// Package cuda is Conveyor's own thin binding to the CUDA driver API and
// NVRTC, just wide enough for compute: devices and their properties, a
// device's primary context with one stream, memory, PTX modules, kernel
// launches, CUDA graphs by stream capture, and NVRTC compilation.
//
// The binary does not link libcuda or libnvrtc: Load dlopens the driver,
// libcuda.so.1 (or the file CONVEYOR_CUDA_LIBRARY names), and LoadNVRTC the
// first NVRTC it finds (see NVRTCCandidates), so a machine without CUDA runs
// everything but CUDA, and the error says why CUDA is unavailable.
//
// The hot path crosses cgo once per batch: callers build a slice of Command
// (plain integers and packed parameters) and Submit hands it to one C call
// that makes the context current and launches each on the stream.
package cuda

/*
#cgo LDFLAGS: -ldl
#cgo CFLAGS: -O2
#include <stdlib.h>
#include "cu.h"
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"
)

// LibraryEnv names the environment variable that, when set, is the only
// driver library tried (a file name for dlopen) in place of libcuda.so.1.
// Tests hide the driver by pointing it at a missing file.
const LibraryEnv = "CONVEYOR_CUDA_LIBRARY"

var (
	loadOnce      sync.Once
	loadErr       error
	driverVersion int
)

// Load loads the CUDA driver and initialises it, once per process, and says
// why CUDA cannot be used when it cannot, e.g. "libcuda.so.1 not found: ...
// (no NVIDIA driver)".
func Load() error {
	loadOnce.Do(func() {
		name := "libcuda.so.1"
		if s := os.Getenv(LibraryEnv); s != "" {
			name = s
		}
		cs := C.CString(name)
		r := C.cu_load(cs)
		C.free(unsafe.Pointer(cs))
		if r != 0 {
			msg := strings.TrimPrefix(C.GoString(C.cu_load_error()), name+": ")
			switch {
			case r == 2:
				loadErr = fmt.Errorf("%s is not a usable CUDA driver: %s", name, msg)
			case strings.Contains(msg, "No such file"):
				loadErr = fmt.Errorf("%s not found: %s (no NVIDIA driver, or a container without the compute capability)", name, msg)
			default:
				loadErr = fmt.Errorf("%s cannot be loaded: %s", name, msg)
			}
			return
		}
		var v C.int
		if err := check("cuInit", C.cu_init(&v)); err != nil {
			loadErr = fmt.Errorf("%w (the driver is installed, but no usable device)", err)
			return
		}
		driverVersion = int(v)
	})
	return loadErr
}

// DriverVersion is the driver's CUDA version as major*1000 + minor*10
// (12040 for 12.4); 0 before a successful Load.
func DriverVersion() int { return driverVersion }

// Error is a failed driver call.
type Error struct {
	Op     string
	Result int
}

func (e *Error) Error() string {
	name := ""
	if p := C.cu_error_name(C.cu_result(e.Result)); p != nil {
		name = C.GoString(p)
	}
	if name == "" {
		name = fmt.Sprintf("CUresult(%d)", e.Result)
	}
	return fmt.Sprintf("cuda: %s: %s", e.Op, name)
}

func check(op string, r C.cu_result) error {
	switch r {
	case 0:
		return nil
	case C.CU_ERROR_MISSING_ENTRY:
		return fmt.Errorf("cuda: %s: no entry point %s in the driver", op, C.GoString(C.cu_missing()))
	case C.CU_ERROR_NOT_LOADED:
		return fmt.Errorf("cuda: %s: the driver is not loaded", op)
	}
	return &Error{op, int(r)}
}

// DeviceInfo describes one CUDA device.
type DeviceInfo struct {
	Index        int
	Name         string
	Major, Minor int // compute capability
	SMs          int
	Memory       uint64 // bytes
	MemClockKHz  int
	BusBits      int
	MaxShared    int // shared memory per block, bytes
	Integrated   bool
	PCI          string
}

// Arch is the compute capability as NVRTC's sm number, e.g. 86.
func (d DeviceInfo) Arch() int { return d.Major*10 + d.Minor }

// BandwidthGBs is the memory bandwidth the clock and bus width promise
// (double data rate), in GB/s; 0 when the driver does not say.
func (d DeviceInfo) BandwidthGBs() float64 {
	return 2 * float64(d.MemClockKHz) * 1e3 * float64(d.BusBits) / 8 / 1e9
}

func (d DeviceInfo) String() string {
	return fmt.Sprintf("%d: %s (sm_%d, %d SMs, %.1f GiB)", d.Index, d.Name, d.Arch(), d.SMs, float64(d.Memory)/(1<<30))
}

// Devices lists the CUDA devices in the driver's order; it loads the driver first.
func Devices() ([]DeviceInfo, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	var n C.int
	if err := check("cuDeviceGetCount", C.cu_device_count(&n)); err != nil {
		return nil, err
	}
	out := make([]DeviceInfo, int(n))
	for i := range out {
		var ci C.cu_info
		if err := check("cuDeviceGetAttribute", C.cu_device_info(C.int(i), &ci)); err != nil {
			return nil, err
		}
		out[i] = DeviceInfo{
			Index: i, Name: C.GoString(&ci.name[0]), Major: int(ci.major), Minor: int(ci.minor),
			SMs: int(ci.sms), Memory: uint64(ci.total_mem), MemClockKHz: int(ci.clock_khz), BusBits: int(ci.bus_bits),
			MaxShared: int(ci.max_shared), Integrated: ci.integrated != 0, PCI: C.GoString(&ci.pci[0]),
		}
	}
	return out, nil
}
