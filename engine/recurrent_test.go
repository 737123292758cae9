package engine

// hybridArch names the hybrid linear-attention models of ../shared/arch:
// CPU only so far; other backends refuse them.
var hybridArch = map[string]bool{"qwen35": true, "qwen3next": true, "qwen35moe": true}
