package cuda

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/conveyor-llm/conveyor/shaders"
)

// CacheEnv names the environment variable that sets the PTX cache folder;
// "off" turns the cache off. Unset, it is conveyor/cuda under the user's
// cache folder (os.UserCacheDir).
const CacheEnv = "CONVEYOR_CUDA_CACHE"

// compileFunc compiles CUDA C to PTX (cgo/cuda.Compile in the backend, a
// fake in tests).
type compileFunc func(src, name string, opts []string) (ptx []byte, log string, err error)

// kernelCache compiles the kernel modules of package shaders for one
// architecture and keeps their PTX on disk, so NVRTC runs once per module,
// NVRTC version, driver and architecture. A file is the line "conveyor-ptx
// SHA256" (of what follows) and the PTX; one that does not match its hash
// is compiled again and rewritten.
type kernelCache struct {
	dir     string // "" : no disk cache
	nvrtc   string // NVRTC version, "11.8"
	driver  int    // CUDA driver version, 12040
	arch    int    // sm number the PTX targets
	compile compileFunc
	// compiled counts NVRTC runs, for tests.
	compiled int
}

// defaultCacheDir is the cache folder CacheEnv or the user's cache gives.
func defaultCacheDir() string {
	switch s := os.Getenv(CacheEnv); s {
	case "off":
		return ""
	case "":
		d, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(d, "conveyor", "cuda")
	default:
		return s
	}
}

// chooseArch is the architecture to compile for: the device's when NVRTC
// supports it, else the newest NVRTC supports below it (PTX runs on later
// GPUs: the driver compiles it for them).
func chooseArch(device int, supported []int) (int, error) {
	if len(supported) == 0 {
		return device, nil
	}
	best := 0
	for _, a := range supported {
		if a <= device && a > best {
			best = a
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("cuda: this NVRTC compiles for sm_%d and later; the device is sm_%d", supported[0], device)
	}
	return best, nil
}

// options are the NVRTC options for arch.
func options(arch int) []string {
	// --fmad=false: no multiply-add is fused unless a kernel says fmaf, so
	// every instantiation of a kernel (decode and prefill tiles) rounds alike.
	return []string{fmt.Sprintf("--gpu-architecture=compute_%d", arch), "--std=c++14", "--fmad=false"}
}

// key names module's PTX for this cache's NVRTC, driver and architecture:
// it changes whenever the source or any of them does.
func (c *kernelCache) key(module, src string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d\x00%s", src, c.nvrtc, c.driver, c.arch, strings.Join(options(c.arch), " "))
	return fmt.Sprintf("%s-sm%d-%s.ptx", module, c.arch, hex.EncodeToString(h.Sum(nil))[:24])
}

// path is the cache file of module, "" without a disk cache.
func (c *kernelCache) path(module, src string) string {
	if c.dir == "" {
		return ""
	}
	return filepath.Join(c.dir, c.key(module, src))
}

const ptxMagic = "conveyor-ptx "

// readPTX returns the PTX of a cache file, or an error when it is missing
// or does not match its hash.
func readPTX(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	head, body, ok := bytes.Cut(b, []byte("\n"))
	if !ok || !bytes.HasPrefix(head, []byte(ptxMagic)) {
		return nil, errors.New("no header")
	}
	sum := sha256.Sum256(body)
	if string(head[len(ptxMagic):]) != hex.EncodeToString(sum[:]) {
		return nil, errors.New("hash mismatch")
	}
	return body, nil
}

// writePTX stores ptx at path atomically (a temporary file renamed), so a
// reader never sees half a file.
func writePTX(path string, ptx []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".ptx-*")
	if err != nil {
		return err
	}
	sum := sha256.Sum256(ptx)
	_, err = fmt.Fprintf(f, "%s%s\n%s", ptxMagic, hex.EncodeToString(sum[:]), ptx)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// PTX returns module's PTX from the disk cache, or compiles it (and stores
// it when the cache folder is writable: a read-only cache costs only time).
func (c *kernelCache) PTX(module string) ([]byte, error) {
	src, err := shaders.CUDASource(module)
	if err != nil {
		return nil, err
	}
	path := c.path(module, src)
	if path != "" {
		if ptx, err := readPTX(path); err == nil {
			return ptx, nil
		}
	}
	ptx, _, err := c.compile(src, module+".cu", options(c.arch))
	if err != nil {
		return nil, err
	}
	c.compiled++
	if path != "" {
		_ = writePTX(path, ptx)
	}
	return ptx, nil
}
