// Command conveyor runs, inspects and makes GGUF models.
//
//	conveyor run [-m MODEL] -p PROMPT [-n N] [--temp T] ... generate text
//	conveyor info [MODEL]                                    metadata and tensors
//	conveyor tokenize [-m MODEL] TEXT                        token ids
//	conveyor synth --arch llama --dim D ... -o OUT.gguf      a random-weight model
//	conveyor devices                                         Vulkan and CUDA devices
//	conveyor pull OWNER/REPO[:QUANT]                         a GGUF from Hugging Face
//	conveyor list, conveyor rm NAME                          the model store
//
// Without a model, run, chat, bench, info and tokenize use stories260K, which
// is built into the binary (models/stories260k).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/conveyor-llm/conveyor/engine"
)

type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"run":      {"generate text from a prompt", runCmd},
	"info":     {"show a model's metadata and tensors", infoCmd},
	"tokenize": {"print the token ids of a text", tokenizeCmd},
	"synth":    {"write a random-weight model of a real shape", synthCmd},
	"quantize": {"convert a model's weights to another type", quantizeCmd},
	"devices":  {"list the Vulkan and CUDA devices", devicesCmd},
	"bench":    {"measure prompt and generation speed, as llama-bench", benchCmd},
	"chat":     {"chat with a model in the terminal", chatCmd},
	"template": {"render a chat template for a conversation, as transformers does", templateCmd},
	"serve":    {"serve the model over an OpenAI-compatible HTTP API", serveCmd},
	"pull":     {"download a GGUF from Hugging Face into the model store", pullCmd},
	"list":     {"list the models in the store", listCmd},
	"rm":       {"remove a model from the store", rmCmd},
	"embed":    {"print the embedding vector of each input", embedCmd},
	"rerank":   {"score documents against a query with a reranking model", rerankCmd},
}

// errUsage marks errors in the command line (exit status 2).
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" || args[0] == "version" {
		printVersion(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "conveyor: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(args[1:], stdout, stderr); err != nil {
		if errors.Is(err, errVersion) {
			printVersion(stdout)
			return 0
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "conveyor %s: %v\n", args[0], err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: conveyor COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-9s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\n'conveyor COMMAND -h' lists a command's flags.")
}

// newFlags is a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("conveyor "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// errVersion is returned by parse for --version: the command prints the
// version and stops.
var errVersion = errors.New("version asked for")

// parse parses args, wrapping bad flags as usage errors. Flags may come after
// positional arguments, as llama.cpp's tools allow ("--" ends the flags);
// fs.Args() is then the positional arguments in their order. --version on any
// command prints the version.
func parse(fs *flag.FlagSet, args []string) error {
	if fs.Lookup("version") == nil {
		fs.Bool("version", false, "print the version and exit")
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	if v := fs.Lookup("version"); v != nil && v.Value.String() == "true" {
		return errVersion
	}
	// Parse once more with only the positional arguments, behind "--", so
	// that fs.Args() gives them.
	return fs.Parse(append([]string{"--"}, positional...))
}

// modelArg is the model named by -m or, failing that, the first argument.
func modelArg(flagValue string, fs *flag.FlagSet) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if fs.NArg() > 0 {
		return fs.Arg(0), nil
	}
	return "", fmt.Errorf("%w: no model: give one with -m FILE", errUsage)
}

// loadInterruptibly loads a model; Ctrl-C (or SIGTERM) while it loads stops
// loading and returns the context's error.
func loadInterruptibly(path string, opts engine.Options, stderr io.Writer) (*engine.Model, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m, err := loadModel(ctx, path, opts, stderr)
	if err != nil && ctx.Err() != nil {
		return nil, errors.New("interrupted while loading the model")
	}
	return m, err
}
