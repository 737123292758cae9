package engine

import (
	"fmt"

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

// addRotation gives layer l of kv the rotation matrix of its backend when
// its caches are stored rotated (model.RotatesCache): one matrix a backend,
// shared by its layers.
func (s *Session) addRotation(kv *model.Cache, l int, cacheType gguf.Type, headDim int) error {
	if !model.RotatesCache(cacheType, headDim) {
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
func (m *Model) checkKVBindings(opts SessionOptions, cacheType gguf.Type) error {
	h := m.arch.Hyper()
	rowBytes := int64(cacheType.RowBytes(h.KVDim()))
	bytes := float64(rowBytes) * float64(opts.Sequences) * float64(opts.Context)
	backends := []backend.Backend{m.backend}
	if m.place != nil {
		backends = m.place.Layers
	}
	for _, b := range backends {
		lim, ok := b.(kvLimiter)
		if !ok {
			continue
		}
		if most := lim.MaxKVBytes(rowBytes); bytes > float64(most) {
			return fmt.Errorf("engine: a KV cache of %s is %s a layer for its keys (and as much for its values), more than the %s the %s backend's attention reads (%d positions at most): use a smaller context, fewer sequences or a smaller cache type",
				cacheShape(opts), humanBytes(bytes), humanBytes(float64(most)), b.Name(), most/max(rowBytes, 1))
		}
	}
	return nil
}
