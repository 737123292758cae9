package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/models/stories260k"
)

// isEmbedded reports whether -m's value picks the model built into the binary:
// no value, or its name (any case) when no file has that name.
func isEmbedded(path string) bool {
	if path == "" {
		return true
	}
	if !strings.EqualFold(path, stories260k.Name) {
		return false
	}
	_, err := os.Stat(path)
	return err != nil
}

// noteEmbedded says on stderr, in one line, that the embedded model is used.
func noteEmbedded(stderr io.Writer, path string) {
	why := "-m " + path
	if path == "" {
		why = "no -m given"
	}
	fmt.Fprintf(stderr, "%s: using the embedded %s (%.1f MB, %s)\n",
		why, stories260k.Name, float64(len(stories260k.GGUF()))/1e6, stories260k.License)
}

// loadModel loads the model that -m names, or the embedded stories260K.
func loadModel(ctx context.Context, path string, opts engine.Options, stderr io.Writer) (*engine.Model, error) {
	path, err := resolveName(path)
	if err != nil {
		return nil, err
	}
	if !isEmbedded(path) {
		return engine.LoadContext(ctx, path, opts)
	}
	noteEmbedded(stderr, path)
	m, err := engine.LoadBytes(stories260k.GGUF(), opts)
	if err != nil {
		return nil, fmt.Errorf("embedded %s: %w", stories260k.Name, err)
	}
	return m, nil
}

// openModelFile parses the GGUF file that -m names, or the embedded one.
func openModelFile(path string, stderr io.Writer) (*gguf.File, error) {
	path, err := resolveName(path)
	if err != nil {
		return nil, err
	}
	if !isEmbedded(path) {
		return gguf.Open(path)
	}
	noteEmbedded(stderr, path)
	return gguf.Parse(stories260k.GGUF())
}

// modelOrDefault is the model named by -m or, failing that, the first
// argument; "" (the embedded model) when neither is given.
func modelOrDefault(flagValue string, fs *flag.FlagSet) string {
	if flagValue == "" && fs.NArg() > 0 {
		return fs.Arg(0)
	}
	return flagValue
}
