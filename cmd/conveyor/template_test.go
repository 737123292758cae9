package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// TestTemplateReproducesReferenceRenderings runs `conveyor template` on every
// case of the chat-template kit: the output is the reference rendering byte for
// byte, or, where the reference failed, an error exit (with the template's own
// message for raise_exception).
func TestTemplateReproducesReferenceRenderings(t *testing.T) {
	kit := testdata.Path(t, "chat-templates")
	files, err := filepath.Glob(filepath.Join(kit, "expected", "*.json"))
	require.NoError(t, err)
	require.Len(t, files, 32)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			var c map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(data, &c))
			var tmpl, rendered, wantErr, kind string
			require.NoError(t, json.Unmarshal(c["template"], &tmpl))
			_, hasRendered := c["rendered"]
			if hasRendered {
				require.NoError(t, json.Unmarshal(c["rendered"], &rendered))
			} else {
				require.NoError(t, json.Unmarshal(c["error"], &wantErr))
				require.NoError(t, json.Unmarshal(c["error_kind"], &kind))
			}
			delete(c, "rendered")
			delete(c, "error")
			delete(c, "error_kind")
			caseJSON, err := json.Marshal(c)
			require.NoError(t, err)
			input := filepath.Join(t.TempDir(), "case.json")
			require.NoError(t, os.WriteFile(input, caseJSON, 0o644))

			code, out, errOut := conveyor("template", "--file", filepath.Join(kit, "templates", tmpl), "--input", input, "--date", "2024-07-26")
			if hasRendered {
				require.Equal(t, 0, code, errOut)
				require.Equal(t, rendered, out)
				return
			}
			require.NotEqual(t, 0, code)
			require.Empty(t, out)
			if kind == "raise_exception" {
				require.Equal(t, "conveyor template: "+wantErr+"\n", errOut)
			}
		})
	}
}

func TestTemplateCommandLine(t *testing.T) {
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "t.jinja")
	require.NoError(t, os.WriteFile(tmpl, []byte("{{ bos_token }}{{ messages[0].content }}|{{ strftime_now('%Y-%m-%d') }}|{{ eos_token is defined }}\n"), 0o644))
	input := filepath.Join(dir, "case.json")
	require.NoError(t, os.WriteFile(input, []byte(`{"messages":[{"role":"user","content":"hé"}],"add_generation_prompt":true,"bos_token":"<s>","eos_token":null}`), 0o644))

	// The rendering exactly: Jinja drops the template's one trailing newline and
	// nothing is added.
	code, out, errOut := conveyor("template", "--file", tmpl, "--input", input, "--date", "2025-01-02")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "<s>hé|2025-01-02|False", out)

	// A builtin name works in place of a file.
	code, out, errOut = conveyor("template", "--file", "chatml", "--input", input)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "<|im_start|>user\nhé<|im_end|>\n<|im_start|>assistant\n", out)

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"template", "--input", input}, 2, "give --file"},
		{[]string{"template", "--file", tmpl, "--input", input, "--date", "26/07/2024"}, 2, "YYYY-MM-DD"},
		{[]string{"template", "--file", filepath.Join(dir, "missing.jinja"), "--input", input}, 1, "no such file"},
	} {
		code, out, errOut := conveyor(tc.args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, errOut)
		require.Empty(t, out)
		require.Contains(t, errOut, tc.want)
	}
}
