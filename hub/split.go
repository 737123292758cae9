package hub

import (
	"fmt"
	"io"
	"strings"

	"github.com/conveyor-llm/conveyor/gguf"
)

// Keys of llama.cpp's split format (gguf-split): every part is a GGUF file
// holding some of the tensors; the first also holds the model's metadata.
const (
	KeySplitNo      = "split.no"
	KeySplitCount   = "split.count"
	KeySplitTensors = "split.tensors.count"
)

// SplitCount is a file's split.count: 0 or 1 for a whole model.
func SplitCount(f *gguf.File) int {
	v, ok := f.Lookup(KeySplitCount)
	if !ok {
		return 0
	}
	n, err := v.Uint()
	if err != nil {
		return 0
	}
	return int(n)
}

// MergeSplit writes the parts of a split GGUF (in order) as one file at out,
// as `llama-gguf-split --merge` does: the first part's metadata without the
// split.* keys, then every part's tensors. out appears only when whole.
func MergeSplit(parts []string, out string) error {
	files := make([]*gguf.File, 0, len(parts))
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for i, p := range parts {
		f, err := gguf.Open(p)
		if err != nil {
			return err
		}
		files = append(files, f)
		if n := SplitCount(f); n != len(parts) {
			return fmt.Errorf("%s: split.count is %d, but there are %d parts", p, n, len(parts))
		}
		if v, ok := f.Lookup(KeySplitNo); ok {
			if no, err := v.Uint(); err != nil || int(no) != i {
				return fmt.Errorf("%s: split.no is %v, want %d", p, v.Any(), i)
			}
		}
	}
	w := gguf.NewWriter()
	for _, kv := range files[0].KVs {
		if strings.HasPrefix(kv.Key, "split.") {
			continue
		}
		if err := w.AddKV(kv.Key, kv); err != nil {
			return err
		}
	}
	count := 0
	for i, f := range files {
		for _, t := range f.Tensors {
			data := f.TensorData(t)
			if data == nil {
				return fmt.Errorf("%s: tensor %s lies outside the file", parts[i], t.Name)
			}
			if err := w.AddTensorFunc(t.Name, t.Type, t.Dims, func(out io.Writer) error {
				_, err := out.Write(data)
				return err
			}); err != nil {
				return fmt.Errorf("%s: %w", parts[i], err)
			}
			count++
		}
	}
	if v, ok := files[0].Lookup(KeySplitTensors); ok {
		if n, err := v.Uint(); err == nil && int(n) != count {
			return fmt.Errorf("%s: split.tensors.count is %d, the parts hold %d tensors", parts[0], n, count)
		}
	}
	return w.WriteFile(out)
}
