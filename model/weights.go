package model

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// Weights are bound by name in one place: a model's weight struct carries each
// tensor's GGUF name and expected shape in struct tags, and bindWeights fills it.
//
//	Output backend.Tensor `gguf:"output.weight,token_embd.weight" shape:"vocab,dim"`
//
// gguf lists the names to try in order (a tied output falls back to the embedding);
// shape gives the tensor's rows and columns (one name: a vector) in terms of the
// sizes the architecture defines; optional:"true" lets the tensor be absent.
// A field of slice-of-struct type with gguf:"blk.%d" holds one struct per layer;
// an embedded struct without a tag (a group of weights several architectures
// share) is bound in place.

// Progress is told how many bytes of weights are loaded so far, and of how many.
type Progress func(done, total int64)

type weightLoader struct {
	f        *gguf.File
	b        backend.Backend
	sizes    map[string]int
	layers   int
	mapped   backend.Buffer // the file's data section, when the backend computes on it in place
	owned    []backend.Buffer
	progress Progress
	// place, when set, splits the weights across backends (LoadPlaced):
	// each is copied to its part's backend, and ownedBy holds the buffers.
	place   *Placement
	ownedBy map[backend.Backend][]backend.Buffer
	done    int64
	total   int64
}

func newWeightLoader(f *gguf.File, b backend.Backend, sizes map[string]int, layers int, progress Progress) (*weightLoader, error) {
	l := &weightLoader{f: f, b: b, sizes: sizes, layers: layers, progress: progress}
	for _, t := range f.Tensors {
		l.total += int64(t.Bytes())
	}
	// Only a file's mapping is computed on in place: the CPU backend may copy it
	// and drop its pages (see backend/cpu's copyHost), which would zero a
	// parsed slice in the heap. Weights from a slice are copied to the backend.
	if m, ok := b.(backend.HostMapper); ok && f.Mapped() && len(f.Tensors) > 0 {
		data := f.TensorData(gguf.TensorInfo{Type: gguf.TypeI8, Dims: []uint64{uint64(f.Size()) - f.DataOffset}})
		buf, err := m.MapHost(data)
		if err != nil {
			return nil, err
		}
		l.mapped = buf
	}
	return l, nil
}

// bind fills every tagged tensor field of the struct that dst points to.
func (l *weightLoader) bind(dst any) error {
	return l.bindStruct(reflect.ValueOf(dst).Elem(), "", -1)
}

var tensorType = reflect.TypeFor[backend.Tensor]()

func (l *weightLoader) bindStruct(v reflect.Value, prefix string, layer int) error {
	for i := 0; i < v.NumField(); i++ {
		field := v.Type().Field(i)
		tag, ok := field.Tag.Lookup("gguf")
		if !ok {
			// Shared groups of weights are embedded structs of tagged fields.
			if field.Anonymous && field.Type.Kind() == reflect.Struct {
				if err := l.bindStruct(v.Field(i), prefix, layer); err != nil {
					return err
				}
			}
			continue
		}
		switch {
		case field.Type == tensorType:
			t, err := l.tensor(prefix, tag, field.Tag.Get("shape"), field.Tag.Get("optional") == "true", layer)
			if err != nil {
				return err
			}
			v.Field(i).Set(reflect.ValueOf(t))
		case field.Type.Kind() == reflect.Slice && field.Type.Elem().Kind() == reflect.Struct:
			layers := reflect.MakeSlice(field.Type, l.layers, l.layers)
			for n := 0; n < l.layers; n++ {
				if err := l.bindStruct(layers.Index(n), fmt.Sprintf(tag, n)+".", n); err != nil {
					return err
				}
			}
			v.Field(i).Set(layers)
		default:
			panic(fmt.Sprintf("model: field %s: gguf tag on unsupported type %v", field.Name, field.Type))
		}
	}
	return nil
}

func (l *weightLoader) tensor(prefix, names, shape string, optional bool, layer int) (backend.Tensor, error) {
	var info gguf.TensorInfo
	found := false
	var tried []string
	for i, name := range strings.Split(names, ",") {
		if i == 0 {
			name = prefix + name
		}
		tried = append(tried, name)
		if info, found = l.f.Tensor(name); found {
			break
		}
	}
	if !found {
		if optional {
			return backend.Tensor{}, nil
		}
		return backend.Tensor{}, fmt.Errorf("model: missing tensor %q", strings.Join(tried, `" or "`))
	}
	rows, cols, err := l.expectShape(info, shape)
	if err != nil {
		return backend.Tensor{}, err
	}
	if !strings.Contains(shape, ",") && info.Type != gguf.TypeF32 {
		// Vectors are norm weights and biases, which the ops take as F32.
		return backend.Tensor{}, fmt.Errorf("model: tensor %q: type %v, but norm weights and biases must be F32", info.Name, info.Type)
	}
	if _, err := kernels.FormatOf(info.Type); err != nil {
		return backend.Tensor{}, fmt.Errorf("model: tensor %q: type %v is not supported", info.Name, info.Type)
	}
	t := backend.Tensor{Type: info.Type, Rows: rows, Cols: cols}
	data := l.f.TensorData(info)
	if l.place != nil {
		b := l.placed(names, layer)
		buf, err := b.Alloc(int64(len(data)))
		if err != nil {
			return backend.Tensor{}, fmt.Errorf("model: tensor %q on %s: %w", info.Name, b.Name(), err)
		}
		if l.ownedBy == nil {
			l.ownedBy = map[backend.Backend][]backend.Buffer{}
		}
		l.ownedBy[b] = append(l.ownedBy[b], buf)
		t.Buf = buf
		if err := backend.WriteWeight(b, t, data); err != nil {
			return backend.Tensor{}, fmt.Errorf("model: tensor %q on %s: %w", info.Name, b.Name(), err)
		}
	} else if l.mapped != nil {
		t.Buf, t.Offset = l.mapped, int64(info.Offset)
	} else {
		buf, err := l.b.Alloc(int64(len(data)))
		if err != nil {
			return backend.Tensor{}, fmt.Errorf("model: tensor %q: %w", info.Name, err)
		}
		l.owned = append(l.owned, buf)
		t.Buf = buf
		if err := backend.WriteWeight(l.b, t, data); err != nil {
			return backend.Tensor{}, fmt.Errorf("model: tensor %q: %w", info.Name, err)
		}
	}
	l.done += int64(len(data))
	if l.progress != nil {
		l.progress(l.done, l.total)
	}
	return t, nil
}

// placed is the backend a tensor goes to: its layer's, the input's for the
// token embedding, the output's for the other tensors outside the layers.
func (l *weightLoader) placed(names string, layer int) backend.Backend {
	switch {
	case layer >= 0:
		return l.place.Layers[layer]
	case strings.HasPrefix(names, "token_embd."):
		return l.place.Input
	default:
		return l.place.Output
	}
}

// freeOwned frees the placed buffers bound so far.
func (l *weightLoader) freeOwned() {
	if l == nil {
		return
	}
	for b, bufs := range l.ownedBy {
		for _, buf := range bufs {
			b.Free(buf)
		}
	}
	l.ownedBy = nil
}

// expectShape checks a tensor's dims against its tag ("rows,cols" or "n") and
// returns it as rows x cols.
func (l *weightLoader) expectShape(info gguf.TensorInfo, shape string) (rows, cols int, err error) {
	names := strings.Split(shape, ",")
	want := make([]uint64, len(names))
	for i, name := range names {
		n, ok := l.sizes[name]
		if !ok {
			if v, err := strconv.Atoi(name); err == nil {
				n = v
			} else {
				panic(fmt.Sprintf("model: shape %q: unknown size %q", shape, name))
			}
		}
		want[len(names)-1-i] = uint64(n) // GGUF lists dims innermost first
	}
	dims := info.Dims
	for len(dims) > len(want) && dims[len(dims)-1] == 1 {
		dims = dims[:len(dims)-1]
	}
	if len(dims) != len(want) || !equalDims(dims, want) {
		return 0, 0, fmt.Errorf("model: tensor %q has shape %v, the hyperparameters say %v (%s)", info.Name, info.Dims, want, shape)
	}
	if len(want) == 1 {
		return 1, int(want[0]), nil
	}
	// A stack (experts' matrices, 3-D) is one matrix of all their rows.
	rows = 1
	for _, d := range want[1:] {
		rows *= int(d)
	}
	return rows, int(want[0]), nil
}

func equalDims(a, b []uint64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
