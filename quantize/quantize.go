package quantize

import (
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// GGML's quantization version (GGML_QNT_VERSION), written as
// general.quantization_version as llama.cpp does.
const quantizationVersion = 2

// Options control a conversion.
type Options struct {
	FileType FileType
	// Pure gives every quantized tensor the mix's base type.
	Pure bool
	// Log receives one line per tensor and a summary; nil discards them.
	Log io.Writer
	// Threads quantizing one tensor's rows in parallel; 0: GOMAXPROCS.
	Threads int
}

// File converts the model at in to opt.FileType and writes it to out. The
// output is written to a temporary file renamed into place at the end, so a
// failure leaves no partial out. Tensors are converted as they are written,
// a few rows at a time, so memory stays bounded whatever the model's size.
func File(in, out string, opt Options) error {
	src, err := gguf.Open(in)
	if err != nil {
		return err
	}
	defer src.Close()
	w, err := Build(src, opt)
	if err != nil {
		return err
	}
	return w.WriteFile(out)
}

// Build lays out the converted file: src's metadata with general.file_type
// and general.quantization_version set, and each tensor of src converted to
// its planned type when the writer writes it (src must stay open until then).
func Build(src *gguf.File, opt Options) (*gguf.Writer, error) {
	if _, ok := mixes[opt.FileType]; !ok {
		return nil, fmt.Errorf("quantize: unsupported file type %v", opt.FileType)
	}
	logw := opt.Log
	if logw == nil {
		logw = io.Discard
	}
	threads := opt.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	w := gguf.NewWriter()
	// Copy the metadata in order, replacing the two keys llama.cpp sets in
	// place, and appending them (version first) where they are missing.
	extra := []struct {
		key string
		val uint32
	}{
		{"general.quantization_version", quantizationVersion},
		{"general.file_type", uint32(opt.FileType)},
	}
	for _, kv := range src.KVs {
		var err error
		switch kv.Key {
		case extra[0].key:
			err = w.AddKV(kv.Key, extra[0].val)
		case extra[1].key:
			err = w.AddKV(kv.Key, extra[1].val)
		default:
			err = w.AddKV(kv.Key, kv)
		}
		if err != nil {
			return nil, fmt.Errorf("quantize: %w", err)
		}
	}
	for _, e := range extra {
		if _, ok := src.Lookup(e.key); !ok {
			if err := w.AddKV(e.key, e.val); err != nil {
				return nil, fmt.Errorf("quantize: %w", err)
			}
		}
	}

	p := &Planner{FileType: opt.FileType, Model: ModelOf(src), Pure: opt.Pure}
	st := &stats{log: logw, total: len(src.Tensors)}
	for i, t := range src.Tensors {
		c := p.Plan(t)
		data := src.TensorData(t)
		if data == nil {
			return nil, fmt.Errorf("quantize: tensor %q: data outside the file", t.Name)
		}
		if c.Quantize {
			if _, err := kernels.FormatOf(t.Type); err != nil {
				return nil, fmt.Errorf("quantize: tensor %q: cannot read %v: %w", t.Name, t.Type, err)
			}
			if _, err := kernels.FormatOf(c.Type); err != nil {
				return nil, fmt.Errorf("quantize: tensor %q: cannot write %v: %w", t.Name, c.Type, err)
			}
		}
		t, c, n := t, c, i+1
		err := w.AddTensorFunc(t.Name, c.Type, t.Dims, func(out io.Writer) error {
			if !c.Quantize {
				st.line(n, t, c, len(data), len(data), "")
				_, err := out.Write(data)
				return err
			}
			warn := ""
			if isQuantized(t.Type) {
				warn = fmt.Sprintf("requantizing %v to %v: the result is worse than quantizing the original weights", t.Type, c.Type)
			}
			nx := int(t.Dims[0])
			rows := int(t.Elements()) / nx
			if err := convert(out, data, t.Type, c.Type, nx, rows, threads); err != nil {
				return fmt.Errorf("quantize: tensor %q: %w", t.Name, err)
			}
			st.line(n, t, c, len(data), c.Type.RowBytes(nx)*rows, warn)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("quantize: %w", err)
		}
	}
	return w, nil
}

// stats prints the per-tensor lines and keeps the totals.
type stats struct {
	log          io.Writer
	total        int
	inB, outB    int64
	notes, warns int
}

func (s *stats) line(n int, t gguf.TensorInfo, c Choice, inBytes, outBytes int, warn string) {
	s.inB += int64(inBytes)
	s.outB += int64(outBytes)
	action := "copied"
	if c.Quantize {
		action = "-> " + c.Type.String()
	}
	fmt.Fprintf(s.log, "[%*d/%d] %-32s %-5v %-16s %s  %s -> %s", width(s.total), n, s.total, t.Name, t.Type, fmt.Sprint(t.Dims), action, mib(inBytes), mib(outBytes))
	if c.Note != "" {
		s.notes++
		fmt.Fprintf(s.log, "  (%s)", c.Note)
	}
	if warn != "" {
		s.warns++
		fmt.Fprintf(s.log, "  warning: %s", warn)
	}
	fmt.Fprintln(s.log)
	if n == s.total {
		fmt.Fprintf(s.log, "tensor data: %s -> %s", mib(int(s.inB)), mib(int(s.outB)))
		if s.notes > 0 {
			fmt.Fprintf(s.log, "; %d tensors did not fit the mix's type (see above)", s.notes)
		}
		fmt.Fprintln(s.log)
	}
}

func width(n int) int { return len(fmt.Sprint(n)) }

func mib(b int) string {
	if b < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
}

// convert writes rows rows of nx values from src (type from) as type to,
// a chunk of rows per thread at a time, in order.
func convert(out io.Writer, src []byte, from, to gguf.Type, nx, rows, threads int) error {
	ff, err := kernels.FormatOf(from)
	if err != nil {
		return err
	}
	tf, err := kernels.FormatOf(to)
	if err != nil {
		return err
	}
	inRow, outRow := from.RowBytes(nx), to.RowBytes(nx)
	// About 256 KiB of float32 per chunk.
	chunk := max(1, (256<<10)/(4*nx))
	type work struct {
		f32 []float32
		out []byte
	}
	ws := make([]work, threads)
	for i := range ws {
		ws[i] = work{make([]float32, chunk*nx), make([]byte, chunk*outRow)}
	}
	for start := 0; start < rows; start += chunk * threads {
		var wg sync.WaitGroup
		used := 0
		for k := 0; k < threads; k++ {
			lo := start + k*chunk
			hi := min(lo+chunk, rows)
			if lo >= hi {
				break
			}
			used++
			wg.Add(1)
			go func(wk work, lo, hi int) {
				defer wg.Done()
				n := (hi - lo) * nx
				ff.Dequantize(wk.f32[:n], src[lo*inRow:hi*inRow])
				tf.Quantize(wk.out[:(hi-lo)*outRow], wk.f32[:n])
			}(ws[k], lo, hi)
		}
		wg.Wait()
		for k := 0; k < used; k++ {
			lo := start + k*chunk
			hi := min(lo+chunk, rows)
			if _, err := out.Write(ws[k].out[:(hi-lo)*outRow]); err != nil {
				return err
			}
		}
	}
	return nil
}
