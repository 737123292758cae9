package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/hub"
	"github.com/conveyor-llm/conveyor/model"
)

func listCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("list", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: list takes no arguments", errUsage)
	}
	store, err := hub.OpenStore()
	if err != nil {
		return err
	}
	ms, err := store.Manifests("")
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		fmt.Fprintf(stderr, "no models in %s: `conveyor pull OWNER/REPO[:QUANT]` adds one\n", store.Root)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tQUANT\tSIZE\tARCH\tPARAMS\tCONTEXT\tPULLED")
	for _, m := range ms {
		arch, params, ctx := "?", "?", "?"
		if p, err := store.ModelPath(m); err == nil && store.Check(m) == nil {
			if f, err := gguf.Open(p); err == nil {
				arch, params, ctx = headerSummary(f)
				f.Close()
			}
		} else {
			arch = "(file missing)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Repo, m.Quant, human(float64(m.Size), "B"),
			arch, params, ctx, m.Pulled.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

// headerSummary reads a model's architecture, parameter count and context
// length from its GGUF header.
func headerSummary(f *gguf.File) (arch, params, ctx string) {
	arch, ctx = "?", "?"
	if a, err := model.Architecture(f); err == nil {
		arch = a
		if v, ok := f.Lookup(a + ".context_length"); ok {
			if n, err := v.Uint(); err == nil {
				ctx = fmt.Sprint(n)
			}
		}
	}
	var n uint64
	for _, t := range f.Tensors {
		n += t.Elements()
	}
	return arch, human(float64(n), ""), ctx
}
