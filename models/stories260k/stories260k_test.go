package stories260k

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/internal/testdata"
)

func TestEmbeddedChecksum(t *testing.T) {
	sum := sha256.Sum256(GGUF())
	if got := hex.EncodeToString(sum[:]); got != SHA256 {
		t.Fatalf("embedded file sha256 %s, want %s", got, SHA256)
	}
}

// TestEmbeddedMatchesShared checks that the embedded file is byte for byte the
// test data's stories260K.gguf, when that is present.
func TestEmbeddedMatchesShared(t *testing.T) {
	path, err := testdata.Lookup("models/stories260K.gguf")
	if err != nil {
		t.Skip(err)
	}
	shared, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := sha256.Sum256(GGUF()), sha256.Sum256(shared); a != b {
		t.Fatalf("embedded sha256 %x differs from %s's %x", a, path, b)
	}
	if !bytes.Equal(GGUF(), shared) {
		t.Fatal("embedded file differs from the shared one")
	}
}

func TestEmbeddedParses(t *testing.T) {
	f, err := gguf.Parse(GGUF())
	if err != nil {
		t.Fatal(err)
	}
	v, ok := f.Lookup("general.architecture")
	if !ok {
		t.Fatal("no general.architecture")
	}
	if arch, err := v.Str(); err != nil || arch != "llama" {
		t.Fatalf("general.architecture = %q (%v), want llama", arch, err)
	}
	if len(f.Tensors) == 0 {
		t.Fatal("no tensors")
	}
}
