package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/engine/runopts"
)

func runCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	opts := runopts.Register(fs)
	hf := hfFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q (the prompt goes after -p)", errUsage, fs.Arg(0))
	}
	if err := opts.Check(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	loadOpts := opts.Engine()
	loadOpts.Progress = runopts.LoadProgress(stderr)
	loadOpts.Log = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	path, err := resolveModel(opts.Model, *hf, stderr)
	if err != nil {
		return err
	}
	m, err := loadModel(ctx, path, loadOpts, stderr)
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
		fmt.Fprint(stdout, opts.Prompt)
	}
	res, genErr := s.Generate(ctx, opts.Request(), func(t engine.Token) error {
		if !opts.JSON {
			_, err := io.WriteString(stdout, t.Text)
			return err
		}
		return nil
	})
	if errors.Is(genErr, engine.ErrPromptTooLong) {
		return fmt.Errorf("%w (raise -c)", genErr)
	}
	if res == nil {
		return genErr
	}
	if opts.JSON {
		line, err := runopts.JSON(res)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(line))
	} else {
		fmt.Fprintln(stdout)
		fmt.Fprintln(stderr, res.Stats)
	}
	return genErr
}
