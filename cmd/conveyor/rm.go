package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/conveyor-llm/conveyor/hub"
)

func rmCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rm", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: give the models to remove as OWNER/REPO[:QUANT] (see conveyor list)", errUsage)
	}
	store, err := hub.OpenStore()
	if err != nil {
		return err
	}
	for _, name := range fs.Args() {
		ref, err := hub.ParseRef(name)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		m, err := store.Find(ref)
		if errors.Is(err, hub.ErrNotPulled) {
			return fmt.Errorf("%s is not in the store %s (conveyor list shows what is)", ref, store.Root)
		}
		if err != nil {
			return err
		}
		if err := store.Remove(m); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s\n", m.Name())
	}
	return nil
}
