// Package testdata finds the shared models and test vectors that tests read.
//
// They live in CONVEYOR_TESTDATA, or by default in the folder "shared" beside the
// repository (found from the module root, the folder holding go.mod). They are never
// committed to the repository.
package testdata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Dir is the shared test-data folder.
func Dir() (string, error) {
	if d := os.Getenv("CONVEYOR_TESTDATA"); d != "" {
		return d, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(root), "shared"), nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testdata: no go.mod above the working directory")
		}
		dir = parent
	}
}

// T is the part of testing.TB that Path needs.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Path is the path of rel inside the shared folder. A missing file fails the test
// with a message that says where it was looked for; it never skips.
func Path(t T, rel string) string {
	t.Helper()
	dir, err := Dir()
	if err != nil {
		t.Fatalf("test data: %v (set CONVEYOR_TESTDATA to the shared folder)", err)
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test data %q missing: %v (set CONVEYOR_TESTDATA to the shared folder)", rel, err)
	}
	return p
}

// Lookup is Path for code outside tests: it returns an error instead of failing.
func Lookup(rel string) (string, error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("test data %q missing: %w (set CONVEYOR_TESTDATA to the shared folder)", rel, err)
	}
	return p, nil
}
