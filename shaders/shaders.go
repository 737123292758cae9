// Package shaders holds Conveyor's Vulkan compute shaders: GLSL sources
// (NAME.comp, with common.glsl and decode.glsl included) and their SPIR-V
// (NAME.spv), compiled by build.sh with glslc --target-env=vulkan1.2 -O and
// committed, so building Conveyor needs no shader compiler. `build.sh check`
// fails when a committed .spv differs from a fresh build.
//
// Shaders read every buffer as 32-bit words (no 8/16-bit storage features
// needed) and are parameterised by specialization constants (weight type,
// mode) rather than copied per type.
package shaders

import (
	"embed"
	"fmt"
)

//go:embed *.spv
var files embed.FS

// SPV returns the SPIR-V of shader name ("matmul"), or nil if there is none.
func SPV(name string) []byte {
	b, err := files.ReadFile(name + ".spv")
	if err != nil {
		return nil
	}
	return b
}

// MustSPV is SPV that panics when the shader is missing.
func MustSPV(name string) []byte {
	b := SPV(name)
	if b == nil {
		panic(fmt.Sprintf("shaders: no shader %q", name))
	}
	return b
}

// Names lists the shaders.
func Names() []string {
	entries, _ := files.ReadDir(".")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name()[:len(e.Name())-len(".spv")])
	}
	return names
}
