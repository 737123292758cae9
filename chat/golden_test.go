package chat

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// goldenCase is one file of chat-templates/expected.
type goldenCase struct {
	Name      string
	Template  string
	Input     Input
	Rendered  *string
	Error     string
	ErrorKind string
}

var pinnedDate = time.Date(2024, 7, 26, 0, 0, 0, 0, time.UTC)

func loadGolden(t *testing.T) []goldenCase {
	t.Helper()
	dir := testdata.Path(t, "chat-templates")
	files, err := filepath.Glob(filepath.Join(dir, "expected", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no expected files in %s: %v", dir, err)
	}
	var cases []goldenCase
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Template  string  `json:"template"`
			Rendered  *string `json:"rendered"`
			Error     string  `json:"error"`
			ErrorKind string  `json:"error_kind"`
		}
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		in, err := ParseCase(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		in.Date = pinnedDate
		src, err := os.ReadFile(filepath.Join(dir, "templates", c.Template))
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, goldenCase{
			Name:      strings.TrimSuffix(filepath.Base(f), ".json"),
			Template:  string(src),
			Input:     in,
			Rendered:  c.Rendered,
			Error:     c.Error,
			ErrorKind: c.ErrorKind,
		})
	}
	return cases
}

// checkGolden compares one rendering (or error) with the expected file.
func checkGolden(t *testing.T, c goldenCase, got string, err error) {
	t.Helper()
	if c.Rendered == nil {
		if err == nil {
			t.Fatalf("%s: rendered %q, want error %q", c.Name, got, c.Error)
		}
		if c.ErrorKind == "raise_exception" && err.Error() != c.Error {
			t.Fatalf("%s: error %q, want %q", c.Name, err.Error(), c.Error)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	if want := *c.Rendered; got != want {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		lo := max(0, i-40)
		t.Fatalf("%s: first difference at byte %d:\n got: %q\nwant: %q", c.Name, i,
			got[lo:min(len(got), i+40)], want[lo:min(len(want), i+40)])
	}
}

func TestGoldenRenderings(t *testing.T) {
	cases := loadGolden(t)
	if len(cases) != 32 {
		t.Errorf("%d expected files, want 32", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			got, err := Render(c.Template, c.Input)
			checkGolden(t, c, got, err)
		})
	}
}

// TestMoreConversations renders the conversations of testdata/conversations.json
// (several turns, no generation prompt, Unicode and newlines, reasoning tags,
// content parts, tool definitions, calls and results) with the kit's templates
// under permissive licenses, and compares them with jinja2's renderings
// (testdata/gen_conversations.py).
func TestMoreConversations(t *testing.T) {
	dir := testdata.Path(t, "chat-templates")
	data, err := os.ReadFile("testdata/conversations.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Conversations map[string]json.RawMessage `json:"conversations"`
		Expected      []struct {
			Template     string  `json:"template"`
			Conversation string  `json:"conversation"`
			BOSToken     *string `json:"bos_token"`
			EOSToken     *string `json:"eos_token"`
			Rendered     *string `json:"rendered"`
			Error        string  `json:"error"`
			ErrorKind    string  `json:"error_kind"`
		} `json:"expected"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Expected) == 0 {
		t.Fatal("no cases")
	}
	for _, e := range f.Expected {
		src, err := os.ReadFile(filepath.Join(dir, "templates", e.Template))
		if err != nil {
			t.Fatal(err)
		}
		in, err := ParseCase(f.Conversations[e.Conversation])
		if err != nil {
			t.Fatal(err)
		}
		in.BOSToken, in.EOSToken, in.Date = e.BOSToken, e.EOSToken, pinnedDate
		c := goldenCase{Name: strings.TrimSuffix(e.Template, ".jinja") + "." + e.Conversation, Template: string(src), Input: in,
			Rendered: e.Rendered, Error: e.Error, ErrorKind: e.ErrorKind}
		t.Run(c.Name, func(t *testing.T) {
			got, err := Render(c.Template, c.Input)
			checkGolden(t, c, got, err)
		})
	}
}
