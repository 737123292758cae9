package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/model"
)

func infoCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("info", stderr)
	path := fs.String("m", "", "model `file` (or give it as the argument; default: the embedded stories260K)")
	fit := registerFit(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	p := modelOrDefault(*path, fs)
	if fit.on {
		return fitCmd(p, fit, stdout, stderr)
	}
	f, err := openModelFile(p, stderr)
	if err != nil {
		return err
	}
	defer f.Close()

	var params, bytes uint64
	for _, t := range f.Tensors {
		params += t.Elements()
		bytes += t.Bytes()
	}
	fmt.Fprintf(stdout, "file:         %s (GGUF v%d, %d metadata keys, %d tensors)\n", p, f.Version, len(f.KVs), len(f.Tensors))
	arch, archErr := model.Architecture(f)
	supported := "supported"
	if archErr != nil {
		arch, supported = "?", archErr.Error()
	} else if !isSupported(arch) {
		supported = "not supported (supported: " + strings.Join(model.Architectures(), ", ") + ")"
	}
	fmt.Fprintf(stdout, "architecture: %s (%s)\n", arch, supported)
	if archErr == nil && isSupported(arch) {
		h, err := model.Describe(f)
		if err != nil {
			fmt.Fprintf(stdout, "model:        does not load: %v\n", err)
		} else {
			fmt.Fprintf(stdout, "model:        dim %d, %d layers, %d heads x %d (%d KV heads), FFN %d, vocab %d, context %d\n",
				h.Dim, h.Layers, h.Heads, h.HeadDim, h.KVHeads, h.FFN, h.Vocab, h.ContextLength)
			if h.Experts > 0 {
				fmt.Fprintf(stdout, "experts:      %d per layer, %d used per token, width %d; %s active parameters per token\n",
					h.Experts, h.ExpertsUsed, h.ExpertFFN, human(float64(activeParams(f, h)), ""))
			}
			if h.Hybrid != nil {
				fmt.Fprintf(stdout, "layers:       %s\n", h.Hybrid.Pattern(h.Layers))
			}
			if len(h.Features) > 0 {
				fmt.Fprintf(stdout, "features:     %s\n", strings.Join(h.Features, ", "))
			}
		}
	}
	fmt.Fprintf(stdout, "parameters:   %s, %s of weights\n", human(float64(params), ""), human(float64(bytes), "B"))

	fmt.Fprintln(stdout, "\nmetadata:")
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, kv := range f.KVs {
		fmt.Fprintf(tw, "  %s\t%s\n", kv.Key, describe(kv))
	}
	tw.Flush()

	fmt.Fprintln(stdout, "\ntensors:")
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  name\ttype\tshape\tbytes\toffset")
	for _, t := range f.Tensors {
		fmt.Fprintf(tw, "  %s\t%s\t%v\t%d\t%d\n", t.Name, t.Type, t.Dims, t.Bytes(), t.Offset)
	}
	return tw.Flush()
}

func isSupported(arch string) bool {
	for _, a := range model.Architectures() {
		if a == arch {
			return true
		}
	}
	return false
}

// describe shows a metadata value in a line: long arrays by their length and first items.
func describe(v gguf.Value) string {
	if n := v.ArrayLen(); n > 0 || v.Type == gguf.ValueArray {
		s := fmt.Sprint(v.Any())
		if len(s) > 60 {
			s = s[:60] + "..."
		}
		return fmt.Sprintf("[%d x %s] %s", n, v.ElemType(), s)
	}
	s := fmt.Sprint(v.Any())
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	if v.Type == gguf.ValueString {
		return fmt.Sprintf("%q", s)
	}
	return s
}

func human(x float64, unit string) string {
	for _, p := range []struct {
		div    float64
		suffix string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "K"}} {
		if x >= p.div {
			return fmt.Sprintf("%.2f %s%s", x/p.div, p.suffix, unit)
		}
	}
	return fmt.Sprintf("%.0f %s", x, unit)
}

// activeParams is how many parameters a token reads: all of them but the
// experts it does not choose (of each expert stack, used/experts).
func activeParams(f *gguf.File, h *model.Hyper) uint64 {
	var n uint64
	for _, t := range f.Tensors {
		if strings.Contains(t.Name, "_exps.") {
			n += t.Elements() / uint64(h.Experts) * uint64(h.ExpertsUsed)
		} else {
			n += t.Elements()
		}
	}
	return n
}
