package engine

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/model"
)

// Fit is what a model and a session will take in memory, estimated from the
// file alone before anything is loaded, and what the machine has free.
//
// On the CPU the weights are the file's bytes, resident once (the backend
// computes on them in place, or on one copy from which the file's pages are
// dropped); the KV cache, the activations and the process itself (the Go
// runtime, the binary, the tokenizer) come on top. On Vulkan the weights, KV
// cache and activations are device-local; the host keeps the process.
type Fit struct {
	Backend string // "cpu", "vulkan" or "cuda"
	Device  string // the GPU's name, when Backend is "vulkan" or "cuda"
	// The session counted: positions per sequence, sequences, cache type and
	// the widest batch. CacheType is the type, or both when the keys' and
	// the values' differ: "keys q8_0, values f16".
	Context, Sequences, BatchSize int
	CacheType                     string

	Weights     []TypeBytes // by type, largest first
	WeightBytes int64       // resident weights (on the device for Vulkan)
	Params      uint64
	KV          int64 // KV cache (and the recurrent state of hybrid models)
	Scratch     int64 // activations and logits of the widest batch
	Process     int64 // host: this process before loading, the tokenizer and the backend's own buffers

	Host, DeviceBytes int64 // totals: host RAM, device-local memory (0 on the CPU)
	// HostFree is MemAvailable; DeviceFree the device's budget (its
	// device-local heap, or CONVEYOR_VK_BUDGET), each with whether it is known.
	HostFree, DeviceFree           int64
	HostKnown, DeviceKnown         bool
	DeviceInHost                   bool   // the device is CPU-emulated (lavapipe): its memory is host RAM
	DeviceFreeSource               string // where DeviceFree comes from
	perPos, fixedHost, fixedDevice float64

	// Layers is the model's layer count; GPULayers, on Vulkan, how many of
	// them the estimate puts on the device (the last ones; the rest, the
	// input embedding and the output on the CPU backend: see Partial).
	Layers, GPULayers int
	layerBytes        []int64 // each layer's weights
	fileBytes         int64   // all the weights
}

// TypeBytes is how many bytes of weights a tensor type has.
type TypeBytes struct {
	Type   gguf.Type
	Bytes  int64
	Params uint64
}

// Resident memory of the process beyond what it measures of itself before
// loading: the backend's thread scratch and the runtime's slack, found by
// measuring peak RSS (see fit_test.go), and the tokenizer per vocabulary entry.
const (
	fitSlack       = 512 << 10
	fitPerVocabTok = 160
)

// EstimateFit estimates the memory of loading f with opts and opening a
// session of sopts (zero fields take NewSession's defaults) without loading
// anything. Backend "auto" is resolved as Load would resolve it.
func EstimateFit(f *gguf.File, opts Options, sopts SessionOptions) (*Fit, error) {
	name, dev, err := resolveBackend(opts)
	if err != nil {
		return nil, err
	}
	sz := &sizer{name: name}
	arch, err := sizeModel(f, sz)
	if err != nil {
		return nil, err
	}
	h := arch.Hyper()
	fit := &Fit{Backend: name, Layers: h.Layers, layerBytes: make([]int64, h.Layers)}
	byType := map[gguf.Type]*TypeBytes{}
	var fileBytes int64
	for _, t := range f.Tensors {
		tb := byType[t.Type]
		if tb == nil {
			tb = &TypeBytes{Type: t.Type}
			byType[t.Type] = tb
		}
		tb.Bytes += int64(t.Bytes())
		tb.Params += t.Elements()
		fileBytes += int64(t.Bytes())
		var l int
		if _, err := fmt.Sscanf(t.Name, "blk.%d.", &l); err == nil && l >= 0 && l < h.Layers {
			fit.layerBytes[l] += int64(t.Bytes())
		}
		fit.Params += t.Elements()
	}
	for _, tb := range byType {
		fit.Weights = append(fit.Weights, *tb)
	}
	sort.Slice(fit.Weights, func(i, j int) bool { return fit.Weights[i].Bytes > fit.Weights[j].Bytes })

	// The session as NewSession will size it.
	batch := 256
	if name != "cpu" {
		batch = 512
	}
	sopts, types, err := sopts.normalized(h, batch)
	if err != nil {
		return nil, err
	}
	fit.Context, fit.Sequences, fit.BatchSize, fit.CacheType = sopts.Context, sopts.Sequences, sopts.BatchSize, types.String()
	kv, scratch := sessionBytes(h, sopts, types)
	kv += recurrentBytes(h, sopts.Sequences)
	fit.KV, fit.Scratch = int64(kv), int64(scratch)
	fit.perPos = kv / (float64(sopts.Sequences) * float64(sopts.Context))

	rss, ok := residentMemory()
	if !ok {
		rss = 16 << 20
	}
	fit.Process = rss + fitSlack + int64(h.Vocab)*fitPerVocabTok
	if name == "cpu" {
		fit.WeightBytes = fileBytes
		if f.Mapped() {
			// The whole data section is mapped (and copied) at once.
			fit.WeightBytes = max(fileBytes, f.Size()-int64(f.DataOffset))
		} else {
			// From bytes in memory (the embedded model): copied to the
			// backend, and the source read.
			fit.WeightBytes = sz.bytes + fileBytes
		}
		fit.fixedHost = float64(fit.WeightBytes + fit.Process)
		fit.Host = fit.WeightBytes + fit.KV + fit.Scratch + fit.Process
	} else {
		fit.WeightBytes = sz.bytes
		fit.Device = dev.Name
		fit.fixedDevice = float64(fit.WeightBytes)
		fit.DeviceBytes = fit.WeightBytes + fit.KV + fit.Scratch
		fit.fixedHost = float64(fit.Process)
		fit.Host = fit.Process
		fit.DeviceInHost = dev.Type == "cpu"
		fit.DeviceFree, fit.DeviceKnown, fit.DeviceFreeSource = deviceBudget(dev)
		fit.GPULayers = h.Layers
	}
	fit.fileBytes = fileBytes
	if avail, ok := availableMemory(); ok {
		// What this process holds now is already spent.
		fit.HostFree, fit.HostKnown = avail+rss, true
	}
	return fit, nil
}

// Partial is the estimate on Vulkan with only the last n layers on the
// device (0 < n < Layers): their weights and KV cache and a full set of
// activations there; the other layers' weights (copied), their KV cache,
// the embedding, the output and another set of activations on the host.
func (f *Fit) Partial(n int) *Fit {
	g := *f
	if f.Backend == "cpu" || n <= 0 || n >= f.Layers {
		return &g
	}
	var dev int64
	for _, b := range f.layerBytes[f.Layers-n:] {
		dev += b
	}
	kvDev := f.KV * int64(n) / int64(f.Layers)
	g.GPULayers = n
	g.WeightBytes = dev
	g.DeviceBytes = dev + kvDev + f.Scratch
	g.fixedDevice = float64(dev)
	g.Host = f.Process + (f.fileBytes - dev) + (f.KV - kvDev) + f.Scratch
	g.fixedHost = float64(f.Process + f.fileBytes - dev)
	return &g
}

// LayersThatFit is the most layers that fit on the device with the rest on
// the CPU (Partial), all of them when the whole model fits; 0 when none does.
func (f *Fit) LayersThatFit() int {
	if f.Fits() {
		return f.Layers
	}
	for n := f.Layers - 1; n > 0; n-- {
		if f.Partial(n).Fits() {
			return n
		}
	}
	return 0
}

// normalized fills in NewSession's defaults and checks the cache types.
func (o SessionOptions) normalized(h *model.Hyper, defaultBatch int) (SessionOptions, kvCacheTypes, error) {
	if o.Context <= 0 {
		o.Context = min(h.ContextLength, 4096)
	}
	if o.Sequences <= 0 {
		o.Sequences = 1
	}
	if o.BatchSize <= 0 {
		o.BatchSize = defaultBatch
	}
	if o.CacheType == "" {
		o.CacheType = "f16"
	}
	types, err := parseCacheTypes(o, h)
	if err != nil {
		return o, types, err
	}
	if o.BatchSize > o.Context*o.Sequences {
		o.BatchSize = o.Context * o.Sequences
	}
	return o, types, nil
}

// recurrentBytes is the recurrent state of a hybrid model's sessions (see
// allocRecurrent).
func recurrentBytes(h *model.Hyper, seqs int) float64 {
	y := h.Hybrid
	if y == nil {
		return 0
	}
	n := 0.0
	for l := range h.Layers {
		if y.Recurrent(l) {
			n += 4 * float64(seqs) * float64(y.ConvStateSize()+y.Net.StateSize())
		}
	}
	return n
}

// Fits reports whether the estimate fits in what is free (unknown free
// memory counts as enough). On a CPU-emulated device, device memory is host
// memory and counts against both.
func (f *Fit) Fits() bool {
	host := f.Host
	if f.DeviceInHost {
		host += f.DeviceBytes
	}
	if f.HostKnown && host > f.HostFree {
		return false
	}
	return !f.DeviceKnown || f.DeviceBytes <= f.DeviceFree
}

// Check returns nil when the estimate fits, else an error with the numbers
// and what would fit.
func (f *Fit) Check() error {
	if f.Fits() {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "engine: the model will not fit: %s", f.needs())
	if alt := f.alternatives(); alt != "" {
		fmt.Fprintf(&b, "; %s", alt)
	}
	return &FitError{Fit: f, msg: b.String()}
}

// FitError is Check's error: the estimate that did not fit.
type FitError struct {
	Fit *Fit
	msg string
}

func (e *FitError) Error() string { return e.msg }

// needs is "N of host memory (...) but M is available".
func (f *Fit) needs() string {
	parts := []string{}
	if f.DeviceKnown && f.DeviceBytes > f.DeviceFree {
		parts = append(parts, fmt.Sprintf("%s of device memory (weights %s, KV cache %s, scratch %s) but %s has %s (%s)",
			humanBytes(float64(f.DeviceBytes)), humanBytes(float64(f.WeightBytes)), humanBytes(float64(f.KV)),
			humanBytes(float64(f.Scratch)), f.Device, humanBytes(float64(f.DeviceFree)), f.DeviceFreeSource))
	}
	host := f.Host
	if f.DeviceInHost {
		host += f.DeviceBytes
	}
	if f.HostKnown && host > f.HostFree {
		if f.Backend == "cpu" {
			parts = append(parts, fmt.Sprintf("it needs %s of memory (weights %s, KV cache %s for %s, scratch %s, process %s) but %s is available",
				humanBytes(float64(host)), humanBytes(float64(f.WeightBytes)), humanBytes(float64(f.KV)), f.shape(),
				humanBytes(float64(f.Scratch)), humanBytes(float64(f.Process)), humanBytes(float64(f.HostFree))))
		} else {
			parts = append(parts, fmt.Sprintf("it needs %s of host memory but %s is available", humanBytes(float64(host)), humanBytes(float64(f.HostFree))))
		}
	}
	return strings.Join(parts, "; ")
}

func (f *Fit) shape() string {
	return cacheShape(SessionOptions{Context: f.Context, Sequences: f.Sequences}) + ", " + f.CacheType
}

// MaxContext is the most positions per sequence that fit beside the weights
// (a multiple of 256, or less than 256 when that is all), 0 when none does.
func (f *Fit) MaxContext() int {
	room := -1.0
	if f.HostKnown {
		r := float64(f.HostFree) - f.fixedHost - float64(f.Scratch)
		if f.DeviceInHost {
			r -= f.fixedDevice + float64(f.Scratch)
		}
		room = r
	}
	if f.DeviceKnown {
		r := float64(f.DeviceFree) - f.fixedDevice - float64(f.Scratch)
		if room < 0 || r < room {
			room = r
		}
		if f.HostKnown && !f.DeviceInHost {
			room = r
			if float64(f.HostFree) < f.fixedHost {
				return 0
			}
		}
	}
	if room < 0 || f.perPos == 0 {
		return 0
	}
	n := int(room / (f.perPos * float64(f.Sequences)))
	if n >= 256 {
		n -= n % 256
	}
	return n
}

// quantBits are the usual llama.cpp quantizations by bits per weight, largest first.
var quantBits = []struct {
	name string
	bits float64
}{{"Q8_0", 8.5}, {"Q6_K", 6.56}, {"Q5_K_M", 5.69}, {"Q4_K_M", 4.89}, {"Q3_K_M", 3.91}, {"Q2_K", 3.35}}

// alternatives says what would fit instead: a smaller context, the CPU
// backend, a smaller quantization.
func (f *Fit) alternatives() string {
	var alts []string
	if n := f.MaxContext(); n > 0 && n < f.Context {
		alts = append(alts, fmt.Sprintf("a context of %d (-c %d) would fit", n, n))
	}
	if f.Backend != "cpu" && f.HostKnown {
		cpuHost := f.Process + f.WeightBytes + f.KV + f.Scratch
		if cpuHost <= f.HostFree {
			alts = append(alts, fmt.Sprintf("the CPU backend (--backend cpu, %s of %s free) would fit", humanBytes(float64(cpuHost)), humanBytes(float64(f.HostFree))))
		}
	}
	if f.Params > 0 {
		have := float64(f.WeightBytes) * 8 / float64(f.Params)
		for _, q := range quantBits {
			if q.bits >= have-0.05 {
				continue
			}
			g := *f
			g.WeightBytes = int64(float64(f.Params) * q.bits / 8)
			g.fixedHost += float64(g.WeightBytes - f.WeightBytes)
			if f.Backend == "cpu" {
				g.Host += g.WeightBytes - f.WeightBytes
			} else {
				g.DeviceBytes += g.WeightBytes - f.WeightBytes
				g.fixedDevice += float64(g.WeightBytes - f.WeightBytes)
			}
			if g.Fits() {
				alts = append(alts, fmt.Sprintf("a %s quantization (about %s of weights) would fit", q.name, humanBytes(float64(g.WeightBytes))))
				break
			}
		}
	}
	if len(alts) == 0 {
		return "nothing smaller would fit here"
	}
	return strings.Join(alts, "; ")
}

// residentMemory is this process's resident set (VmRSS), and whether it is known.
var residentMemory = func() (int64, bool) {
	return procStatus("VmRSS:")
}

func procStatus(key string) (int64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == key {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

// deviceBudget is the memory a device offers: CONVEYOR_VK_BUDGET (bytes, or
// with a K, M or G suffix: a cap for tests and for sharing a GPU), else its
// device-local heap (this build's Vulkan binding does not read
// VK_EXT_memory_budget, so memory other processes hold is not subtracted).
func deviceBudget(d Device) (int64, bool, string) {
	if v := os.Getenv("CONVEYOR_VK_BUDGET"); v != "" {
		if n, err := parseBytes(v); err == nil {
			return n, true, "CONVEYOR_VK_BUDGET"
		}
	}
	if d.MemoryBytes == 0 {
		return 0, false, ""
	}
	return int64(d.MemoryBytes), true, "its device-local heap"
}

// parseBytes reads "123", "64K", "512M" or "2G" (binary units).
func parseBytes(in string) (int64, error) {
	s := strings.TrimSuffix(strings.TrimSpace(strings.ToUpper(in)), "B")
	s = strings.TrimSuffix(s, "I")
	shift := 0
	if i := strings.IndexAny(s, "KMGT"); i >= 0 && i == len(s)-1 {
		shift = 10 * (1 + strings.IndexByte("KMGT", s[i]))
		s = strings.TrimSpace(s[:i])
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("engine: %q is not a size in bytes", in)
	}
	return n << shift, nil
}

// resolveBackend is the backend Load will use: its name and, for Vulkan, the device.
func resolveBackend(opts Options) (string, Device, error) {
	switch opts.Backend {
	case "cpu":
		return "cpu", Device{}, nil
	case "cuda":
		d, err := resolveCUDA(opts)
		if err != nil {
			return "", Device{}, fmt.Errorf("backend: %w", err)
		}
		return "cuda", d, nil
	case "", "auto":
		if d, err := resolveCUDA(opts); err == nil && cudaReady() == nil {
			return "cuda", d, nil
		}
	case "vulkan":
	default:
		return "", Device{}, fmt.Errorf("backend: unknown backend %q (auto, cpu, vulkan, cuda)", opts.Backend)
	}
	if deviceLister == nil {
		if opts.Backend == "vulkan" {
			return "", Device{}, fmt.Errorf("backend: vulkan: this build has no Vulkan support (built without cgo or with the novulkan tag)")
		}
		return "cpu", Device{}, nil
	}
	devs, err := deviceLister()
	if err != nil || len(devs) == 0 {
		if opts.Backend == "vulkan" {
			if err == nil {
				err = fmt.Errorf("vulkan: no Vulkan device")
			}
			return "", Device{}, fmt.Errorf("backend: %w", err)
		}
		return "cpu", Device{}, nil
	}
	if opts.DeviceSet && opts.Device >= 0 {
		if opts.Device >= len(devs) {
			return "", Device{}, fmt.Errorf("vulkan: no Vulkan device %d (there are %d; see `conveyor devices`)", opts.Device, len(devs))
		}
		return "vulkan", devs[opts.Device], nil
	}
	if opts.Backend == "vulkan" {
		return "vulkan", devs[0], nil
	}
	for _, kind := range []string{"discrete", "integrated"} {
		for _, d := range devs {
			if d.Type == kind {
				return "vulkan", d, nil
			}
		}
	}
	return "cpu", Device{}, nil
}

// resolveCUDA is the CUDA device Load would open with --backend cuda (auto
// opens it only where cudaReady, as OpenBackend finds).
func resolveCUDA(opts Options) (Device, error) {
	if cudaLister == nil {
		return Device{}, fmt.Errorf("cuda: this build has no CUDA support")
	}
	devs, err := cudaLister()
	if err != nil {
		return Device{}, err
	}
	i := 0
	if opts.DeviceSet && opts.Device >= 0 {
		i = opts.Device
	}
	if i >= len(devs) {
		return Device{}, fmt.Errorf("cuda: no CUDA device %d (there are %d; see `conveyor devices`)", i, len(devs))
	}
	return devs[i], nil
}

// sizeModel binds f's weights on a backend that only counts bytes: the
// hyperparameters and what the weights take on a backend that copies them.
func sizeModel(f *gguf.File, sz *sizer) (m model.Model, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("engine: sizing the model: %v", r)
		}
	}()
	m, _, err = model.Load(f, sz, nil)
	return m, err
}

// sizer is a backend that allocates nothing and counts what it is asked for.
// Only what loading calls is implemented; the rest panics (nil Backend).
type sizer struct {
	backend.Backend
	name  string
	bytes int64
}

type sizedBuffer struct{ n int64 }

func (b sizedBuffer) Size() int64 { return b.n }

func (s *sizer) Name() string   { return s.name }
func (s *sizer) Device() string { return "size estimate" }
func (s *sizer) Alloc(n int64) (backend.Buffer, error) {
	s.bytes += n
	return sizedBuffer{n}, nil
}
func (s *sizer) Write(backend.Tensor, []byte) error { return nil }
func (s *sizer) Free(backend.Buffer)                {}
func (s *sizer) Close() error                       { return nil }
