package chat

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

func systemUser() Input {
	return Input{
		Messages: []map[string]any{
			{"role": "system", "content": "Be brief."},
			{"role": "user", "content": "Hi?"},
		},
		AddGenerationPrompt: true,
	}
}

func strp(s string) *string { return &s }

func TestBuiltins(t *testing.T) {
	for _, tc := range []struct {
		name     string
		bos, eos string
		want     string
	}{
		{"chatml", "", "<|im_end|>", "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n"},
		{"llama3", "<|begin_of_text|>", "<|eot_id|>", "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
			"<|start_header_id|>user<|end_header_id|>\n\nHi?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
		{"gemma", "<bos>", "<eos>", "<bos><start_of_turn>user\nBe brief.\n\nHi?<end_of_turn>\n<start_of_turn>model\n"},
		{"phi3", "<s>", "<|endoftext|>", "<|system|>\nBe brief.<|end|>\n<|user|>\nHi?<|end|>\n<|assistant|>\n"},
		{"mistral", "<s>", "</s>", "<s>[INST] Be brief.\n\nHi? [/INST]"},
	} {
		src, err := Builtin(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		in := systemUser()
		if tc.bos != "" {
			in.BOSToken = strp(tc.bos)
		}
		in.EOSToken = strp(tc.eos)
		got, err := render(t, src, in)
		if err != nil || got != tc.want {
			t.Errorf("%s:\n got %q (%v)\nwant %q", tc.name, got, err, tc.want)
		}
	}
}

func TestBuiltinsMultiTurnAndParts(t *testing.T) {
	in := Input{Messages: []map[string]any{
		{"role": "user", "content": []any{map[string]any{"type": "text", "text": "A"}, map[string]any{"type": "text", "text": "B"}}},
		{"role": "assistant", "content": "C"},
		{"role": "user", "content": "D"},
	}, BOSToken: strp("<s>"), EOSToken: strp("</s>")}
	want := map[string]string{
		"chatml":  "<|im_start|>user\nAB<|im_end|>\n<|im_start|>assistant\nC<|im_end|>\n<|im_start|>user\nD<|im_end|>\n",
		"mistral": "<s>[INST] AB [/INST]C</s>[INST] D [/INST]",
		"gemma":   "<s><start_of_turn>user\nAB<end_of_turn>\n<start_of_turn>model\nC<end_of_turn>\n<start_of_turn>user\nD<end_of_turn>\n",
	}
	for name, w := range want {
		src, _ := Builtin(name)
		got, err := render(t, src, in)
		if err != nil || got != w {
			t.Errorf("%s:\n got %q (%v)\nwant %q", name, got, err, w)
		}
	}
}

func TestBuiltinUnknownListsNames(t *testing.T) {
	_, err := Builtin("vicuna")
	if err == nil {
		t.Fatal("no error")
	}
	for _, n := range []string{"chatml", "llama3", "gemma", "phi3", "mistral"} {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not list %s", err, n)
		}
	}
}

func ggufWith(t *testing.T, kvs map[string]any) *gguf.File {
	t.Helper()
	w := gguf.NewWriter()
	for k, v := range kvs {
		if err := w.AddKV(k, v); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFromGGUFAndResolve(t *testing.T) {
	own := "{% for m in messages %}{{ m.content }}{% endfor %}"
	withT := ggufWith(t, map[string]any{"general.architecture": "llama", "tokenizer.chat_template": own})
	without := ggufWith(t, map[string]any{"general.architecture": "llama"})

	if s, ok := FromGGUF(withT); !ok || s != own {
		t.Fatalf("FromGGUF = %q, %v", s, ok)
	}
	if _, ok := FromGGUF(without); ok {
		t.Fatal("FromGGUF found a template in a file without one")
	}

	if s, err := Resolve(withT, ""); err != nil || s != own {
		t.Fatalf("Resolve(model) = %q, %v", s, err)
	}
	chatml, _ := Builtin("chatml")
	if s, err := Resolve(withT, "chatml"); err != nil || s != chatml {
		t.Fatalf("Resolve(chatml) = %q, %v", s, err)
	}
	file := filepath.Join(t.TempDir(), "t.jinja")
	if err := os.WriteFile(file, []byte("{{ bos_token }}x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := Resolve(without, file); err != nil || s != "{{ bos_token }}x" {
		t.Fatalf("Resolve(file) = %q, %v", s, err)
	}

	_, err := Resolve(without, "")
	if err == nil || !strings.Contains(err.Error(), "--chat-template") {
		t.Fatalf("no template, no flag: error %v, want one naming --chat-template", err)
	}
	_, err = Resolve(without, "nosuch")
	if err == nil || !strings.Contains(err.Error(), "chatml") {
		t.Fatalf("unknown name: error %v, want one listing the builtins", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.jinja")
	if err := os.WriteFile(bad, []byte("{% if %}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(without, bad); err == nil {
		t.Fatal("a template that does not parse was accepted")
	}
}
