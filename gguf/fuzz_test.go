package gguf

import (
	"bytes"
	"os"
	"testing"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// FuzzParse checks that Parse never panics and that whatever it accepts is consistent:
// every tensor's data lies inside the file.
func FuzzParse(f *testing.F) {
	f.Add(tinyFile())
	f.Add(buildRoundTrip(f, false))
	f.Add(newFile(3, 0, 0).bytes())
	w := NewWriter()
	if err := w.AddKV(KeyAlignment, uint8(8)); err != nil {
		f.Fatal(err)
	}
	if err := w.AddKV("nested", [][]string{{"a"}, {"b", "c"}}); err != nil {
		f.Fatal(err)
	}
	if err := w.AddTensor("q", TypeQ8_0, []uint64{32}, make([]byte, 34)); err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	if path, err := testdata.Lookup("models/stories260K-q8_0.gguf"); err == nil {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data[:4096])
		}
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		if file.DataOffset%file.Alignment != 0 {
			t.Fatalf("data offset %d not aligned to %d", file.DataOffset, file.Alignment)
		}
		for _, ti := range file.Tensors {
			got := file.TensorData(ti)
			if uint64(len(got)) != ti.Bytes() || file.DataOffset+ti.Offset+ti.Bytes() > uint64(len(data)) {
				t.Fatalf("tensor %q: %d bytes at %d+%d outside %d-byte file", ti.Name, ti.Bytes(), file.DataOffset, ti.Offset, len(data))
			}
		}
		for _, kv := range file.KVs {
			_ = kv.Any()
			_ = kv.ArrayLen()
		}
	})
}
