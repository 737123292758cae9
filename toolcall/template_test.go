package toolcall

import (
	"os"
	"path/filepath"
	"testing"
)

func readTemplate(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("CONVEYOR_TESTDATA")
	if dir == "" {
		dir = "../../shared"
	}
	b, err := os.ReadFile(filepath.Join(dir, "chat-templates", "templates", name))
	if err != nil {
		t.Skipf("no chat templates: %v", err)
	}
	return string(b)
}
