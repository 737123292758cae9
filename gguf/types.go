package gguf

import "fmt"

// Type is a ggml tensor type, numbered as in ggml's enum ggml_type and the GGUF spec.
type Type uint32

const (
	TypeF32  Type = 0
	TypeF16  Type = 1
	TypeQ4_0 Type = 2
	TypeQ4_1 Type = 3
	TypeQ5_0 Type = 6
	TypeQ5_1 Type = 7
	TypeQ8_0 Type = 8
	TypeQ8_1 Type = 9
	TypeQ2_K Type = 10
	TypeQ3_K Type = 11
	TypeQ4_K Type = 12
	TypeQ5_K Type = 13
	TypeQ6_K Type = 14
	TypeQ8_K Type = 15
	TypeI8   Type = 24
	TypeI16  Type = 25
	TypeI32  Type = 26
	TypeI64  Type = 27
	TypeF64  Type = 28
	TypeBF16 Type = 30

	// The 4-bit non-linear types (one table of 16 levels for both).
	TypeIQ4_NL Type = 20
	TypeIQ4_XS Type = 23

	// MXFP4 (gpt-oss): 32 four-bit E2M1 values with one E8M0 scale.
	TypeMXFP4 Type = 39
)

// typeInfo is a type's block layout: BlockSize values are stored in BlockBytes bytes.
type typeInfo struct {
	name       string
	blockSize  int
	blockBytes int
}

var typeInfos = map[Type]typeInfo{
	TypeF32:  {"F32", 1, 4},
	TypeF16:  {"F16", 1, 2},
	TypeBF16: {"BF16", 1, 2},
	TypeQ4_0: {"Q4_0", 32, 2 + 16},
	TypeQ4_1: {"Q4_1", 32, 2 + 2 + 16},
	TypeQ5_0: {"Q5_0", 32, 2 + 4 + 16},
	TypeQ5_1: {"Q5_1", 32, 2 + 2 + 4 + 16},
	TypeQ8_0: {"Q8_0", 32, 2 + 32},
	TypeQ8_1: {"Q8_1", 32, 2 + 2 + 32},
	TypeQ2_K: {"Q2_K", 256, 256/16 + 256/4 + 2 + 2},
	TypeQ3_K: {"Q3_K", 256, 256/8 + 256/4 + 12 + 2},
	TypeQ4_K: {"Q4_K", 256, 2 + 2 + 12 + 256/2},
	TypeQ5_K: {"Q5_K", 256, 2 + 2 + 12 + 256/8 + 256/2},
	TypeQ6_K: {"Q6_K", 256, 256/2 + 256/4 + 256/16 + 2},
	TypeQ8_K: {"Q8_K", 256, 4 + 256 + 256/16*2},
	TypeI8:   {"I8", 1, 1},
	TypeI16:  {"I16", 1, 2},
	TypeI32:  {"I32", 1, 4},
	TypeI64:  {"I64", 1, 8},
	TypeF64:  {"F64", 1, 8},

	// IQ4_NL: fp16 d, then 16 bytes of 4-bit indexes into the table.
	TypeIQ4_NL: {"IQ4_NL", 32, 2 + 16},
	// IQ4_XS: fp16 d, 6-bit sub-block scales (2 high bits each in a uint16,
	// 4 low bits in 4 bytes), then 128 bytes of 4-bit indexes.
	TypeIQ4_XS: {"IQ4_XS", 256, 2 + 2 + 256/64 + 256/2},
	// MXFP4: an E8M0 exponent byte, then 16 bytes of 4-bit E2M1 codes.
	TypeMXFP4: {"MXFP4", 32, 1 + 16},
}

// Known reports whether t is a tensor type this package knows the layout of.
func (t Type) Known() bool { _, ok := typeInfos[t]; return ok }

// String is the ggml name of the type, e.g. "Q8_0".
func (t Type) String() string {
	if info, ok := typeInfos[t]; ok {
		return info.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize is the number of values in one block (1 for plain types).
func (t Type) BlockSize() int { return typeInfos[t].blockSize }

// BlockBytes is the number of bytes one block takes.
func (t Type) BlockBytes() int { return typeInfos[t].blockBytes }

// RowBytes is the size in bytes of a row of n values; n must be a multiple of BlockSize.
func (t Type) RowBytes(n int) int { return n / t.BlockSize() * t.BlockBytes() }

// ParseType finds a type by its ggml name ("F32", "q8_0", ...).
func ParseType(name string) (Type, error) {
	for t, info := range typeInfos {
		if equalFold(info.name, name) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("gguf: unknown tensor type %q", name)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
