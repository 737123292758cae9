package chat

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// fuzzTemplates are the builtin templates and the real ones in
// $CONVEYOR_TESTDATA/chat-templates/templates (when it is there: the fuzzer
// needs no files of its own).
func fuzzTemplates(f *testing.F) []string {
	var srcs []string
	for _, name := range BuiltinNames() {
		src, err := Builtin(name)
		if err != nil {
			f.Fatal(err)
		}
		srcs = append(srcs, src)
	}
	dir, err := testdata.Dir()
	if err != nil {
		return srcs
	}
	files, _ := filepath.Glob(filepath.Join(dir, "chat-templates", "templates", "*.jinja"))
	sort.Strings(files)
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		srcs = append(srcs, string(b))
	}
	return srcs
}

// fuzzConversation reads a conversation out of fuzz bytes: messages separated
// by 0x00, each a first byte choosing its role and shape, then its text.
func fuzzConversation(data string) (msgs []map[string]any, tools []any) {
	roles := []string{"system", "user", "assistant", "tool", "user", "assistant", "developer", ""}
	for i, part := range strings.Split(data, "\x00") {
		if i >= 32 {
			break
		}
		var b byte
		if part != "" {
			b, part = part[0], part[1:]
		}
		m := map[string]any{"role": roles[b&7]}
		switch (b >> 3) & 3 {
		case 0:
			m["content"] = part
		case 1:
			m["content"] = nil
		case 2:
			m["content"] = []any{map[string]any{"type": "text", "text": part}}
		case 3:
			m["content"] = ""
			m["tool_calls"] = []any{map[string]any{"id": "c1", "type": "function",
				"function": map[string]any{"name": part, "arguments": map[string]any{"x": part}}}}
		}
		if b&0x20 != 0 {
			m["reasoning_content"] = part
		}
		if b&0x40 != 0 {
			m["tool_call_id"] = "c1"
			m["name"] = part
		}
		if b&0x80 != 0 && tools == nil {
			tools = []any{map[string]any{"type": "function", "function": map[string]any{"name": part, "description": part,
				"parameters": map[string]any{"type": "object", "properties": map[string]any{"x": map[string]any{"type": "string"}}}}}}
		}
		msgs = append(msgs, m)
	}
	return msgs, tools
}

// Random conversations against every chat template: a rendering gives text or
// an error (a template's raise_exception, a budget), never a panic or a hang.
func FuzzRenderTemplates(f *testing.F) {
	for _, s := range []string{"", "\x00Hello", "\x01Hi\x00\x02Hello!\x00\x01How are you?", "\x00Be brief.\x00\x01Hi\x00\x1aCall\x00\x43{\"r\":1}\x00\x01ok",
		"\x81weather\x00\x09\x00\x11parts", "\x22think\x00\x01{{ x }}{% raw %}", "\x01\xff\xfe\x00\x07odd"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	srcs := fuzzTemplates(f)
	bos, eos := "<s>", "</s>"
	f.Fuzz(func(t *testing.T, data string, addGen bool) {
		msgs, tools := fuzzConversation(data)
		for _, src := range srcs {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, _ = Render(src, Input{Messages: msgs, Tools: tools, AddGenerationPrompt: addGen, BOSToken: &bos, EOSToken: &eos,
				Vars: map[string]any{"enable_thinking": addGen}, Context: ctx})
			cancel()
		}
	})
}
