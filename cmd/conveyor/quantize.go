package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/conveyor-llm/conveyor/quantize"
)

func quantizeCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("quantize", stderr)
	pure := fs.Bool("pure", false, "give every quantized tensor the base type (no per-tensor mix)")
	threads := fs.Int("threads", 0, "threads per tensor (0: all CPUs)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: conveyor quantize [flags] IN.gguf OUT.gguf TYPE\n\nTYPE is one of %s.\n\nflags:\n", strings.Join(quantize.FileTypeNames(), ", "))
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 3 {
		fs.Usage()
		return fmt.Errorf("%w: want IN.gguf OUT.gguf TYPE", errUsage)
	}
	in, out := fs.Arg(0), fs.Arg(1)
	ft, err := quantize.ParseFileType(fs.Arg(2))
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if in == out {
		return fmt.Errorf("%w: IN and OUT are the same file", errUsage)
	}
	opt := quantize.Options{FileType: ft, Pure: *pure, Log: stderr, Threads: *threads}
	if err := quantize.File(in, out, opt); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s (%v)\n", out, ft)
	return nil
}
