package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/model"
)

// cacheTypes are the KV cache element types a session can have, as
// llama.cpp names them: f16 (its default), f32, and the 32-value block
// quantizations q8_0 (8.5 bits a value) and q4_0 (4.5).
var cacheTypes = []gguf.Type{gguf.TypeF16, gguf.TypeF32, gguf.TypeQ8_0, gguf.TypeQ4_0}

// parseCacheType checks a KV cache type by name against the model: a block
// type's blocks run along each cache row of KVDim values, so KVDim must be a
// whole number of blocks (heads may share a block: stories260K's 4 heads of 8).
func parseCacheType(name string, h *model.Hyper) (gguf.Type, error) {
	t, err := gguf.ParseType(name)
	supported := false
	for _, c := range cacheTypes {
		supported = supported || (err == nil && t == c)
	}
	if !supported {
		return 0, fmt.Errorf("engine: KV cache type %q is not supported (f16, f32, q8_0, q4_0)", name)
	}
	if bs := t.BlockSize(); h.KVDim()%bs != 0 {
		return 0, fmt.Errorf("engine: KV cache type %s needs rows of a multiple of %d values; %s's keys and values are %d wide",
			t, bs, h.Arch, h.KVDim())
	}
	return t, nil
}

// kvCacheTypes are a session's cache types: the keys' and the values'.
type kvCacheTypes struct{ k, v gguf.Type }

// String is the type, or both when they differ: "keys q8_0, values f16".
func (t kvCacheTypes) String() string {
	k, v := strings.ToLower(t.k.String()), strings.ToLower(t.v.String())
	if k == v {
		return k
	}
	return fmt.Sprintf("keys %s, values %s", k, v)
}

// rowBytes is the bytes of a key row and a value row of width values.
func (t kvCacheTypes) rowBytes(width int) (k, v int64) {
	return int64(t.k.RowBytes(width)), int64(t.v.RowBytes(width))
}

// cacheTypeNames are the key and value cache types o asks for: each its own
// (KeyCacheType, ValueCacheType) where set, else CacheType, else f16.
func (o SessionOptions) cacheTypeNames() (k, v string) {
	both := o.CacheType
	if both == "" {
		both = "f16"
	}
	k, v = both, both
	if o.KeyCacheType != "" {
		k = o.KeyCacheType
	}
	if o.ValueCacheType != "" {
		v = o.ValueCacheType
	}
	return k, v
}

// parseCacheTypes checks o's key and value cache types against the model.
func parseCacheTypes(o SessionOptions, h *model.Hyper) (kvCacheTypes, error) {
	kn, vn := o.cacheTypeNames()
	k, err := parseCacheType(kn, h)
	if err != nil {
		if kn != vn {
			err = fmt.Errorf("%w (the keys' type)", err)
		}
		return kvCacheTypes{}, err
	}
	v, err := parseCacheType(vn, h)
	if err != nil {
		if kn != vn {
			err = fmt.Errorf("%w (the values' type)", err)
		}
		return kvCacheTypes{}, err
	}
	return kvCacheTypes{k, v}, nil
}

// kvTypePairer is implemented by backends whose attention takes only some
// pairings of key and value cache types (Vulkan: one type for both).
type kvTypePairer interface {
	CheckKVTypes(k, v gguf.Type) error
}

// checkKVTypes refuses, before anything is allocated, key and value types
// that a layer's backend cannot read together.
func (m *Model) checkKVTypes(types kvCacheTypes) error {
	if types.k == types.v {
		return nil
	}
	for _, b := range m.layerBackends() {
		if p, ok := b.(kvTypePairer); ok {
			if err := p.CheckKVTypes(types.k, types.v); err != nil {
				return fmt.Errorf("engine: %w", err)
			}
		}
	}
	return nil
}

// layerBackends are the backends the layers run on, each once.
func (m *Model) layerBackends() []backend.Backend {
	if m.place == nil {
		return []backend.Backend{m.backend}
	}
	var bs []backend.Backend
	for _, b := range m.place.Layers {
		if !slices.Contains(bs, b) {
			bs = append(bs, b)
		}
	}
	return bs
}

// addRotation gives layer l of kv the rotation matrix of its backend when
// its keys or values are stored rotated (model.RotatesCache): one matrix a
// backend, shared by its layers.
func (s *Session) addRotation(kv *model.Cache, l int, types kvCacheTypes, headDim int) error {
	if !model.RotatesCache(types.k, headDim) && !model.RotatesCache(types.v, headDim) {
		return nil
	}
	b := s.m.backend
	if s.m.place != nil {
		b = s.m.place.Layers[l]
	}
	for i := 0; i < l; i++ {
		if s.m.place == nil || s.m.place.Layers[i] == b {
			kv.Rot = append(kv.Rot, kv.Rot[i])
			return nil
		}
	}
	rot, err := model.NewRotation(b)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if b != s.m.backend {
		s.cpuBuffers = append(s.cpuBuffers, rot.Buf)
	} else {
		s.buffers = append(s.buffers, rot.Buf)
	}
	kv.Rot = append(kv.Rot, rot)
	return nil
}

// kvLimiter is implemented by backends that read a K or V cache through a
// bounded number of bindings (Vulkan): MaxKVBytes is the largest cache of
// rows of rowBytes they take.
type kvLimiter interface {
	MaxKVBytes(rowBytes int64) int64
}

// checkKVBindings refuses, before anything is allocated, a cache larger than
// a layer's backend can read.
func (m *Model) checkKVBindings(opts SessionOptions, types kvCacheTypes) error {
	h := m.arch.Hyper()
	kRow, vRow := types.rowBytes(h.KVDim())
	for _, b := range m.layerBackends() {
		lim, ok := b.(kvLimiter)
		if !ok {
			continue
		}
		for _, c := range []struct {
			what     string
			rowBytes int64
		}{{"keys", kRow}, {"values", vRow}} {
			bytes := float64(c.rowBytes) * float64(opts.Sequences) * float64(opts.Context)
			if most := lim.MaxKVBytes(c.rowBytes); bytes > float64(most) {
				return fmt.Errorf("engine: a KV cache of %s is %s a layer for its %s, more than the %s the %s backend's attention reads (%d positions at most): use a smaller context, fewer sequences or a smaller cache type",
					cacheShape(opts), humanBytes(bytes), c.what, humanBytes(float64(most)), b.Name(), most/max(c.rowBytes, 1))
			}
		}
	}
	return nil
}
