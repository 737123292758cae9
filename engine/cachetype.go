package engine

import (
	"fmt"

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
