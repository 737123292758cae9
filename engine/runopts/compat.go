package runopts

import (
	"flag"
	"fmt"
	"strings"

	"github.com/conveyor-llm/conveyor/engine"
)

// Accel are llama.cpp's offload and cache flags, accepted with their meaning
// where Conveyor has it: -ngl/--gpu-layers, -fa/--flash-attn, -ctk/-ctv.
type Accel struct {
	GPULayers int    // -1: as many as fit (the default)
	FlashAttn string // on, off or auto: attention is computed the same way whatever it says
	// CacheK and CacheV are -ctk and -ctv: the keys' and the values' cache
	// types, each --cache-type's where not given (after Resolve, both set).
	CacheK string
	CacheV string
}

// RegisterAccel defines the Accel flags on fs.
func RegisterAccel(fs *flag.FlagSet) *Accel {
	a := &Accel{GPULayers: -1, FlashAttn: "auto"}
	for _, name := range []string{"ngl", "gpu-layers", "n-gpu-layers"} {
		fs.IntVar(&a.GPULayers, name, -1, "layers on the GPU, as llama.cpp's -ngl: N keeps the last N there and the rest on the CPU (dense llama models), at least the model's layers puts all of them there, 0 runs on the CPU, -1 as many as fit")
	}
	for _, name := range []string{"fa", "flash-attn"} {
		fs.StringVar(&a.FlashAttn, name, "auto", "flash attention, as llama.cpp's -fa: on, off or auto (accepted; attention is computed the same way)")
	}
	for _, name := range []string{"ctk", "cache-type-k"} {
		fs.StringVar(&a.CacheK, name, "", "cache type of the keys, as llama.cpp's -ctk: f16, f32, q8_0 or q4_0 (default: --cache-type's)")
	}
	for _, name := range []string{"ctv", "cache-type-v"} {
		fs.StringVar(&a.CacheV, name, "", "cache type of the values, as llama.cpp's -ctv: f16, f32, q8_0 or q4_0 (default: --cache-type's; no flash attention needed, unlike llama.cpp)")
	}
	return a
}

// CacheTypes are the KV cache types the engine has.
var CacheTypes = []string{"f16", "f32", "q8_0", "q4_0"}

// Resolve checks the flags, fills in -ctk and -ctv from *cacheType (the
// --cache-type flag, which sets both) where they are not given, and folds
// -ngl 0 into *backend ("auto" becomes "cpu"). Keys and values may differ,
// as in llama.cpp: -ctk q8_0 alone is q8_0 keys with --cache-type's values.
func (a *Accel) Resolve(cacheType, backend *string) error {
	switch strings.ToLower(a.FlashAttn) {
	case "on", "off", "auto", "1", "0", "true", "false":
	default:
		return fmt.Errorf("-fa must be on, off or auto, got %q", a.FlashAttn)
	}
	if a.GPULayers < -1 {
		return fmt.Errorf("-ngl must be -1 (all) or more, got %d", a.GPULayers)
	}
	if a.GPULayers == 0 {
		switch *backend {
		case "auto", "cpu":
			*backend = "cpu"
		default:
			return fmt.Errorf("-ngl 0 (no layer on the GPU) contradicts --backend %s", *backend)
		}
	}
	if err := CheckCacheType(*cacheType); err != nil {
		return err
	}
	for _, t := range []*string{&a.CacheK, &a.CacheV} {
		if *t == "" {
			*t = *cacheType
		}
		*t = strings.ToLower(*t)
		if err := CheckCacheType(*t); err != nil {
			return err
		}
	}
	return nil
}

// Session sets o's key and value cache types to -ctk and -ctv (after
// Resolve); a nil Accel leaves them to o.CacheType.
func (a *Accel) Session(o *engine.SessionOptions) {
	if a != nil {
		o.KeyCacheType, o.ValueCacheType = a.CacheK, a.CacheV
	}
}

// CheckCacheType refuses KV cache types the engine does not have, with
// llama.cpp's quantized ones named as such.
func CheckCacheType(t string) error {
	for _, ok := range CacheTypes {
		if t == ok {
			return nil
		}
	}
	switch strings.ToLower(t) {
	case "q4_1", "q5_0", "q5_1", "iq4_nl", "bf16":
		return fmt.Errorf("KV cache type %s is not supported yet: use f16, f32, q8_0 or q4_0", t)
	}
	return fmt.Errorf("KV cache type %q is unknown: use f16, f32, q8_0 or q4_0", t)
}

// EngineLayers is -ngl as engine.Options.GPULayers takes it: 0 (as many as
// fit) for -1, else N (-ngl 0 is the CPU backend, see Resolve).
func (a *Accel) EngineLayers() int {
	if a == nil || a.GPULayers < 0 {
		return 0
	}
	return a.GPULayers
}
