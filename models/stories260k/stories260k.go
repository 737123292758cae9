// Package stories260k carries stories260K, a 260K-parameter Llama trained on
// TinyStories by Andrej Karpathy (llama2.c, MIT license: see LICENSE and NOTICE
// in this folder), as a GGUF file built into the binary. It is the model
// `conveyor` runs when no -m is given, so a fresh clone generates a story with
// nothing downloaded.
package stories260k

import (
	_ "embed" // the model file
	"unsafe"
)

// Name is the model's name, which -m also accepts (case-insensitively).
const Name = "stories260K"

// SHA256 is the hex SHA-256 of the embedded file.
const SHA256 = "e20dffb7e4359357b7a09bf8a81a8656b48b4fc56a6838ce4ae53f2f44f826dd"

// License names the model's license, for one-line notes.
const License = "MIT, Copyright (c) 2023 Andrej Karpathy"

// Embedded as a string so the bytes stay in the binary's read-only data: no
// copy is made, and a write through GGUF's slice faults as one through a
// read-only file mapping would.
//
//go:embed stories260K.gguf
var file string

// GGUF is the model file's bytes. They are read-only: the caller must not
// modify them.
func GGUF() []byte {
	return unsafe.Slice(unsafe.StringData(file), len(file))
}
