package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/models/stories260k"
)

// fakeHub serves one repository as the Hub does: a tree listing, and resolve
// redirecting to a second server holding the bytes. It counts the requests.
func fakeHub(t *testing.T, repo string, files map[string][]byte) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		b, ok := files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		switch {
		case r.URL.Path == "/api/models/"+repo+"/tree/main":
			var list []map[string]any
			for p, b := range files {
				s := sha256.Sum256(b)
				list = append(list, map[string]any{"type": "file", "path": p, "size": len(b),
					"lfs": map[string]any{"oid": hex.EncodeToString(s[:]), "size": len(b)}})
			}
			json.NewEncoder(w).Encode(list)
		case strings.HasPrefix(r.URL.Path, "/"+repo+"/resolve/main/"):
			http.Redirect(w, r, cdn.URL+"/"+strings.TrimPrefix(r.URL.Path, "/"+repo+"/resolve/main/"), http.StatusFound)
		default:
			http.Error(w, "Repository not found", http.StatusNotFound)
		}
	}))
	t.Cleanup(func() { hub.Close(); cdn.Close() })
	return hub, &n
}

func setHubEnv(t *testing.T, endpoint string) string {
	store := t.TempDir()
	t.Setenv("CONVEYOR_MODELS", store)
	t.Setenv("HF_ENDPOINT", endpoint)
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	return store
}

// TestPullListRunRm pulls stories260K from a fake Hub, lists it, runs it by
// name (the same story as the embedded copy tells), and removes it.
func TestPullListRunRm(t *testing.T) {
	const repo = "karpathy/tinyllamas-GGUF"
	hub, requests := fakeHub(t, repo, map[string][]byte{"stories260K-F32.gguf": stories260k.GGUF(), "README.md": []byte("hi")})
	store := setHubEnv(t, hub.URL)

	code, out, errOut := conveyor("pull", repo+":f32")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, repo+":F32: "+filepath.Join(store, "models", repo, "stories260K-F32.gguf"))
	got, err := os.ReadFile(filepath.Join(store, "models", repo, "stories260K-F32.gguf"))
	require.NoError(t, err)
	require.Equal(t, stories260k.GGUF(), got)

	code, out, errOut = conveyor("list")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `NAME\s+QUANT\s+SIZE\s+ARCH\s+PARAMS\s+CONTEXT\s+PULLED`, out)
	require.Regexp(t, repo+`\s+F32\s+1\.\d+ MB\s+llama\s+\d+\.\d+ K\s+512\s+20\d\d-`, out)

	// -m by name, with and without the quant; -hf finds it in the store
	// without asking the Hub.
	before := requests.Load()
	for _, args := range [][]string{{"-m", repo + ":F32"}, {"-m", repo}, {"-hf", repo + ":F32"}} {
		args = append(args, "--temp", "0", "-n", "32", "-p", "Once upon a time", "--backend", "cpu")
		code, out, errOut = conveyor(append([]string{"run"}, args...)...)
		require.Equal(t, 0, code, errOut)
		require.Equal(t, story32, out)
		require.NotContains(t, errOut, "embedded")
	}
	require.Equal(t, before, requests.Load())

	code, out, errOut = conveyor("info", "-m", repo)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "architecture: llama")

	code, out, errOut = conveyor("rm", repo+":F32")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "removed "+repo+":F32\n", out)
	_, err = os.Stat(filepath.Join(store, "models", repo))
	require.True(t, os.IsNotExist(err), "the repo's folder stays after rm: %v", err)
	code, _, errOut = conveyor("list")
	require.Equal(t, 0, code)
	require.Contains(t, errOut, "no models in "+store)
	code, _, errOut = conveyor("rm", repo)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "not in the store")
}

// TestHFFlagPulls pulls on first use of -hf, and HF_HUB_OFFLINE refuses a
// model that is not in the store.
func TestHFFlagPulls(t *testing.T) {
	const repo = "someone/tiny-GGUF"
	hub, _ := fakeHub(t, repo, map[string][]byte{"tiny-Q4_K_M.gguf": stories260k.GGUF(), "tiny-Q8_0.gguf": []byte("x")})
	setHubEnv(t, hub.URL)

	t.Setenv("HF_HUB_OFFLINE", "1")
	code, _, errOut := conveyor("run", "-hf", repo, "-n", "4", "--backend", "cpu")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "HF_HUB_OFFLINE")
	t.Setenv("HF_HUB_OFFLINE", "")

	code, out, errOut := conveyor("run", "-hf", repo, "--temp", "0", "-n", "32", "-p", "Once upon a time", "--backend", "cpu")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, story32, out)

	code, _, errOut = conveyor("bench", "-hf", repo+":Q5_K_M", "--backend", "cpu")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "has no GGUF of quantization Q5_K_M; it has: Q4_K_M, Q8_0")

	code, _, errOut = conveyor("run", "-m", "x.gguf", "-hf", repo)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "not both")
}

func TestModelNameNotPulled(t *testing.T) {
	hub, requests := fakeHub(t, "a/b", nil)
	setHubEnv(t, hub.URL)
	for _, cmd := range [][]string{{"run"}, {"info"}, {"tokenize", "-m", "someone/missing-GGUF:Q4_K_M", "hi"}, {"bench"}, {"chat"}} {
		if len(cmd) == 1 {
			cmd = append(cmd, "-m", "someone/missing-GGUF:Q4_K_M")
		}
		code, _, errOut := conveyor(cmd...)
		require.Equal(t, 1, code, cmd)
		require.Contains(t, errOut, "someone/missing-GGUF:Q4_K_M is neither a file nor a pulled model: run `conveyor pull someone/missing-GGUF:Q4_K_M`", cmd)
	}
	code, _, errOut := conveyor("serve", "-m", "someone/missing-GGUF")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "run `conveyor pull someone/missing-GGUF`")
	require.Zero(t, requests.Load(), "-m asked the Hub")

	code, _, errOut = conveyor("pull", "someone/missing-GGUF")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "404")
	code, _, errOut = conveyor("pull", "not-a-repo")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "OWNER/REPO")

	part := filepath.Join(t.TempDir(), "m-Q4_K_M-00001-of-00002.gguf")
	require.NoError(t, os.WriteFile(part, stories260k.GGUF(), 0o644))
	code, _, errOut = conveyor("info", "-m", part)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "one part of a split model")
}
