package cuda

import (
	"fmt"
	"os"
	"regexp"

	cu "github.com/conveyor-llm/conveyor/cgo/cuda"
	"github.com/conveyor-llm/conveyor/cgo/cuda/emu"
	"github.com/conveyor-llm/conveyor/shaders"
)

// emuDevice is a device whose kernels really run, on the CPU: the CUDA
// sources compiled by package cgo/cuda/emu (the host C++ compiler behind a
// header that makes CUDA's built-ins C++), launched block by block with
// each block's threads as fibers. Where no GPU is lent (CI) the parity
// tests run the kernels' own arithmetic and synchronisation this way; it
// says nothing of speed, and little of memory ordering across warps.
type emuDevice struct {
	mem     *emu.Memory
	modules map[*cu.Module]*emu.Module
	funcs   []emuFunc
	graphs  map[*cu.Graph][]cu.Command
}

type emuFunc struct {
	mod  *emu.Module
	name string
}

// EmulatorEnv names the environment variable that, set to "off", makes
// NewEmulated refuse (tests that fall back to it then skip without a GPU);
// the engine's CUDA tests run every case on it when set to "all" (by
// default a few that reach every kernel).
const EmulatorEnv = "CONVEYOR_CUDA_EMU"

// NewEmulated is a Backend whose kernels run on the CPU, for tests where no
// GPU is lent: slow, and no measure of a GPU's speed, but the same kernel
// sources, parameter packing, scratch and graphs as on a device. It needs a
// C++ compiler (g++, or the one CXX names); the error says why it cannot run.
func NewEmulated() (*Backend, error) {
	if os.Getenv(EmulatorEnv) == "off" {
		return nil, fmt.Errorf("cuda: emulator: %s=off", EmulatorEnv)
	}
	if err := emu.Available(); err != nil {
		return nil, err
	}
	d := &emuDevice{mem: emu.NewMemory(), modules: map[*cu.Module]*emu.Module{}, graphs: map[*cu.Graph][]cu.Command{}}
	// The "PTX" the cache hands the device is the module's CUDA source.
	cache := &kernelCache{arch: 86, compile: func(src, name string, opts []string) ([]byte, string, error) {
		return []byte(src), "", nil
	}}
	return newBackend(d, cu.DeviceInfo{Name: "emulated on the CPU", Major: 8, Minor: 6, SMs: 1}, cache), nil
}

// moduleName finds the module in its source: shaders.CUDASource marks
// where NAME.cu begins with `#line 1 "NAME.cu"`.
var moduleName = regexp.MustCompile(`#line 1 "(\w+)\.cu"`)

func (d *emuDevice) LoadModule(src []byte) (*cu.Module, error) {
	m := moduleName.FindSubmatch(src)
	if m == nil {
		return nil, fmt.Errorf("emu: kernel source names no module")
	}
	entries, err := shaders.CUDAEntryPoints(string(m[1]))
	if err != nil {
		return nil, err
	}
	var ks []emu.Kernel
	for _, k := range entries {
		sig, ok := signatureOf(k)
		if !ok {
			return nil, fmt.Errorf("emu: kernel %s has no entry in kernelSignatures", k)
		}
		ks = append(ks, emu.Kernel{Name: k, Signature: sig})
	}
	mod, err := emu.Compile(string(src), ks) // compiled once per source and process
	if err != nil {
		return nil, err
	}
	h := new(cu.Module)
	d.modules[h] = mod
	return h, nil
}

func (d *emuDevice) Function(m *cu.Module, name string) (cu.Function, error) {
	mod, ok := d.modules[m]
	if !ok {
		return 0, fmt.Errorf("emu: function %s of a module not loaded", name)
	}
	d.funcs = append(d.funcs, emuFunc{mod, name})
	return cu.Function(len(d.funcs)), nil
}

func (d *emuDevice) UnloadModule(m *cu.Module) { delete(d.modules, m) }

func (d *emuDevice) Alloc(size uint64) (cu.DevPtr, error) {
	p, err := d.mem.Alloc(size)
	return cu.DevPtr(p), err
}
func (d *emuDevice) Free(p cu.DevPtr) error                 { return d.mem.Free(uint64(p)) }
func (d *emuDevice) Write(dst cu.DevPtr, data []byte) error { return d.mem.Write(uint64(dst), data) }
func (d *emuDevice) Read(dst []byte, src cu.DevPtr) error   { return d.mem.Read(dst, uint64(src)) }
func (d *emuDevice) Sync() error                            { return nil }
func (d *emuDevice) Close()                                 { d.mem.FreeAll() }

// Submit runs the commands in order, at once (the emulated stream is synchronous).
func (d *emuDevice) Submit(cmds []cu.Command) error {
	for i := range cmds {
		if err := d.run(&cmds[i]); err != nil {
			return err
		}
	}
	return nil
}

func (d *emuDevice) run(c *cu.Command) error {
	arg := func(i int) uint64 {
		var v uint64
		for j := range 8 {
			v |= uint64(c.Args[8*i+j]) << (8 * j)
		}
		return v
	}
	switch c.Kind {
	case cu.KindLaunch:
		if c.Fn == 0 || c.Fn > uint64(len(d.funcs)) {
			return fmt.Errorf("emu: launch of unknown function %d", c.Fn)
		}
		f := d.funcs[c.Fn-1]
		if c.Shmem != 0 {
			return fmt.Errorf("emu: %s: dynamic shared memory is not emulated", f.name)
		}
		return f.mod.Launch(f.name, c.Grid, c.Block, c.Args[:])
	case cu.KindCopy:
		return d.mem.Copy(arg(0), arg(1), arg(2))
	case cu.KindZero:
		return d.mem.Zero(arg(0), arg(1))
	}
	return fmt.Errorf("emu: command of kind %d", c.Kind)
}

// A graph is the commands it was captured from, run again on replay.
func (d *emuDevice) Capture(cmds []cu.Command) (*cu.Graph, error) {
	g := new(cu.Graph)
	d.graphs[g] = append([]cu.Command(nil), cmds...)
	return g, nil
}

func (d *emuDevice) Replay(g *cu.Graph) error {
	cmds, ok := d.graphs[g]
	if !ok {
		return fmt.Errorf("emu: replay of a graph not captured or freed")
	}
	return d.Submit(cmds)
}

func (d *emuDevice) FreeGraph(g *cu.Graph) { delete(d.graphs, g) }
