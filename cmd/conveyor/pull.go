package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/conveyor-llm/conveyor/hub"
)

// newHubClient is a Hub client configured from the environment (HF_ENDPOINT,
// HF_TOKEN, HF_HUB_OFFLINE) that reports on stderr.
func newHubClient(stderr io.Writer) *hub.Client {
	c := hub.NewClient()
	c.Log = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	c.Progress = hub.NewProgress(stderr, 5*time.Second)
	return c
}

func pullCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pull", stderr)
	revision := fs.String("revision", "main", "branch, tag or commit of the repository")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: conveyor pull [--revision REV] OWNER/REPO[:QUANT]\n\n"+
			"Downloads a GGUF from Hugging Face into the model store (QUANT: default "+hub.DefaultQuant+").\n"+
			"Environment: HF_ENDPOINT (a mirror), HF_TOKEN (gated repositories), HF_HUB_OFFLINE=1,\n"+
			"CONVEYOR_MODELS (the store; else $XDG_CACHE_HOME/conveyor or ~/.cache/conveyor).")
		fs.PrintDefaults()
	}
	// Flags may come after the name too.
	if err := parse(fs, args); err != nil {
		return err
	}
	var names []string
	for fs.NArg() > 0 {
		names = append(names, fs.Arg(0))
		if err := parse(fs, fs.Args()[1:]); err != nil {
			return err
		}
	}
	if len(names) != 1 {
		return fmt.Errorf("%w: give one model as OWNER/REPO[:QUANT]", errUsage)
	}
	ref, err := hub.ParseRef(names[0])
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	store, err := hub.OpenStore()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	m, err := newHubClient(stderr).Pull(ctx, store, ref, *revision)
	if err != nil {
		return err
	}
	p, _ := store.ModelPath(m)
	fmt.Fprintf(stdout, "%s: %s, %s\n", m.Name(), p, human(float64(m.Size), "B"))
	return nil
}

// hfFlag defines -hf (and --hf-repo, as llama.cpp spells it) on fs.
func hfFlag(fs *flag.FlagSet) *string {
	s := fs.String("hf", "", "Hugging Face model `OWNER/REPO[:QUANT]`: pulled into the store unless there already, then used")
	fs.StringVar(s, "hf-repo", "", "same as -hf")
	return s
}

// resolveModel is the file to load for -m's value and -hf's: -hf's model
// from the store, pulled first when missing; else what resolveName makes of
// -m. "" stays "" (the embedded model).
func resolveModel(path, hf string, stderr io.Writer) (string, error) {
	if hf == "" {
		return resolveName(path)
	}
	if path != "" {
		return "", fmt.Errorf("%w: give -m or -hf, not both", errUsage)
	}
	ref, err := hub.ParseRef(hf)
	if err != nil {
		return "", fmt.Errorf("%w: -hf: %v", errUsage, err)
	}
	store, err := hub.OpenStore()
	if err != nil {
		return "", err
	}
	if m, err := store.Find(ref); err == nil && store.Check(m) == nil {
		return store.ModelPath(m)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	m, err := newHubClient(stderr).Pull(ctx, store, ref, "")
	if err != nil {
		return "", err
	}
	return store.ModelPath(m)
}

// resolveName is the file -m names: a file that exists, else a pulled model
// named OWNER/REPO[:QUANT]. A name of that shape that is not pulled is an
// error that says to pull it. The embedded model's name is left as it is.
func resolveName(path string) (string, error) {
	if path == "" || isEmbedded(path) {
		return path, nil
	}
	if _, err := os.Stat(path); err == nil {
		if hub.IsSplitPart(path) {
			return "", fmt.Errorf("%s is one part of a split model, which conveyor does not load part by part: "+
				"`conveyor pull` merges the parts of a model it downloads, `llama-gguf-split --merge` merges local ones", path)
		}
		return path, nil
	}
	ref, err := hub.ParseRef(path)
	if err != nil {
		return path, nil // a path: loading it says what is wrong
	}
	store, err := hub.OpenStore()
	if err != nil {
		return "", err
	}
	m, err := store.Find(ref)
	if err != nil {
		if errors.Is(err, hub.ErrNotPulled) {
			return "", fmt.Errorf("%s is neither a file nor a pulled model: run `conveyor pull %s`", path, ref)
		}
		return "", err
	}
	if err := store.Check(m); err != nil {
		return "", err
	}
	return store.ModelPath(m)
}
