package shaders

import (
	"encoding/binary"
	"testing"
)

func TestEmbedded(t *testing.T) {
	names := Names()
	if len(names) < 8 {
		t.Fatalf("only %d shaders: %v", len(names), names)
	}
	for _, n := range names {
		b := SPV(n)
		if len(b) < 20 || len(b)%4 != 0 || binary.LittleEndian.Uint32(b) != 0x07230203 {
			t.Errorf("%s: not SPIR-V", n)
		}
	}
}
