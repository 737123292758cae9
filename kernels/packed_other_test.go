//go:build !amd64

package kernels

import "github.com/conveyor-llm/conveyor/gguf"

func addPlatformRowKernels(map[string]func(gguf.Type, []byte, *PackedActivations, int, *[PackRows]float32)) {
}
