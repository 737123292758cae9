// Package gguf reads and writes GGUF files (versions 2 and 3), the container format of
// ggml and llama.cpp: a header, typed metadata key-value pairs, tensor descriptions and
// the aligned tensor data.
//
// Open maps a file read-only and decodes its metadata; tensor data is never copied, and
// TensorData returns slices of the mapping. Every count, length and offset is checked
// against the file's size before anything is allocated, so a malformed or hostile file
// yields an error naming the problem, never a panic or a huge allocation. Writer builds
// files, streaming tensor data from memory or from callbacks.
//
// Spec: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
package gguf
