package hub

import (
	"fmt"
	"strings"
	"testing"
)

func fmtS(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in, repo, quant string
		ok              bool
	}{
		{"bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", "bartowski/Llama-3.2-1B-Instruct-GGUF", "Q4_K_M", true},
		{"TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF", "TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF", "", true},
		{"model.gguf", "", "", false},
		{"./models/x.gguf", "", "", false},
		{"a/b/c", "", "", false},
		{"../x", "", "", false},
		{"a/..", "", "", false},
		{"stories260k", "", "", false},
	} {
		r, err := ParseRef(tc.in)
		if (err == nil) != tc.ok || r.Repo != tc.repo || r.Quant != tc.quant {
			t.Errorf("ParseRef(%q) = %+v, %v", tc.in, r, err)
		}
	}
}

func TestQuantOf(t *testing.T) {
	for name, want := range map[string]string{
		"Llama-3.2-1B-Instruct-Q4_K_M.gguf":         "Q4_K_M",
		"tinyllama-1.1b-chat-v1.0.Q8_0.gguf":        "Q8_0",
		"ggml-model-q4_0.gguf":                      "Q4_0",
		"Qwen2.5-7B-Instruct-IQ2_XXS.gguf":          "IQ2_XXS",
		"model-bf16.gguf":                           "BF16",
		"Q4_K_M/Big-Q4_K_M-00001-of-00002.gguf":     "Q4_K_M",
		"Qwen3-30B-A3B-UD-Q4_K_XL.gguf":             "Q4_K_XL",
		"phi-2.gguf":                                "",
		"Meta-Llama-3-8B-Instruct.Q5_K_S.gguf":      "Q5_K_S",
		"gemma-2-2b-it-F16-00002-of-00004.gguf":     "F16",
		"mistral-7b-instruct-v0.2.Q4_K_M.gguf.gguf": "Q4_K_M",
	} {
		if got := QuantOf(name); got != want {
			t.Errorf("QuantOf(%q) = %q, want %q", name, got, want)
		}
	}
}

func entries(paths ...string) []Entry {
	var out []Entry
	for _, p := range paths {
		out = append(out, Entry{Type: "file", Path: p, Size: 10})
	}
	return out
}

func TestSelect(t *testing.T) {
	ms, err := Models(entries("README.md", "m-Q4_K_S.gguf", "m-Q4_K_M.gguf", "m-Q8_0.gguf", "mmproj-m-f16.gguf",
		"big/m-F16-00002-of-00002.gguf", "big/m-F16-00001-of-00002.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 4 {
		t.Fatalf("models: %+v", ms)
	}
	for quant, want := range map[string]string{"": "m-Q4_K_M.gguf", "q4_k_s": "m-Q4_K_S.gguf", "Q4_K": "m-Q4_K_M.gguf", "f16": "big/m-F16.gguf"} {
		m, err := Select("o/r", ms, quant)
		if err != nil || m.Name != want {
			t.Errorf("Select(%q) = %v, %v; want %s", quant, m.Name, err, want)
		}
	}
	m, _ := Select("o/r", ms, "F16")
	if !m.Split() || len(m.Files) != 2 || m.Files[0].Path != "big/m-F16-00001-of-00002.gguf" {
		t.Errorf("split model: %+v", m)
	}
	_, err = Select("o/r", ms, "IQ3_M")
	if err == nil || !strings.Contains(err.Error(), "F16, Q4_K_M, Q4_K_S, Q8_0") {
		t.Errorf("err = %v", err)
	}
	// With no tag and no Q4_K_M, the only model is taken.
	one, _ := Models(entries("phi-2.Q8_0.gguf"))
	if m, err := Select("o/r", one, ""); err != nil || m.Name != "phi-2.Q8_0.gguf" {
		t.Errorf("Select = %v, %v", m, err)
	}
	// Missing parts are an error.
	if _, err := Models(entries("m-00001-of-00003.gguf", "m-00003-of-00003.gguf")); err == nil {
		t.Error("a split model with a part missing was accepted")
	}
}

func TestStoreFilePathRefusesEscapes(t *testing.T) {
	s := &Store{Root: "/store"}
	for _, bad := range []string{"../x.gguf", "/etc/passwd", "a/../../x", "", ".", "a\\b"} {
		if _, err := s.FilePath("o/r", bad); err == nil {
			t.Errorf("FilePath(%q) accepted", bad)
		}
	}
	if p, err := s.FilePath("o/r", "sub/m.gguf"); err != nil || p != "/store/models/o/r/sub/m.gguf" {
		t.Errorf("FilePath = %q, %v", p, err)
	}
}
