// Command generate is the short program a library user copies: load a model,
// open a session, stream a generation, print the stats. It takes the same flags
// as `conveyor run`.
//
//	go run ./examples/generate -p "Once upon a time" -n 252 --temp 0
//
// Without -m it runs stories260K, which is built into the binary.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/engine/runopts"
	"github.com/conveyor-llm/conveyor/models/stories260k"
)

func main() {
	opts := runopts.Register(flag.CommandLine)
	flag.Parse()
	if err := opts.Check(); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(2)
	}
	if err := run(opts); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

func run(opts *runopts.Options) error {
	// Ctrl-C stops generation within one token.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	loadOpts := opts.Engine()
	loadOpts.Progress = runopts.LoadProgress(os.Stderr)
	loadOpts.Log = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	load := func() (*engine.Model, error) { return engine.Load(opts.Model, loadOpts) }
	if opts.Model == "" {
		// No -m: the small model built into the binary.
		load = func() (*engine.Model, error) { return engine.LoadBytes(stories260k.GGUF(), loadOpts) }
	}
	m, err := load()
	if err != nil {
		return err
	}
	defer m.Close()

	s, err := m.NewSession(opts.Session())
	if err != nil {
		return err
	}
	defer s.Close()

	if !opts.JSON {
		fmt.Print(opts.Prompt)
	}
	res, err := s.Generate(ctx, opts.Request(), func(t engine.Token) error {
		if !opts.JSON {
			fmt.Print(t.Text)
		}
		return nil
	})
	if err != nil && res == nil {
		return err
	}
	if opts.JSON {
		line, err := runopts.JSON(res)
		if err != nil {
			return err
		}
		fmt.Println(string(line))
	} else {
		fmt.Println()
		fmt.Fprintln(os.Stderr, res.Stats)
	}
	return err
}
