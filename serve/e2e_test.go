package serve

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/internal/testdata"
)

// conveyorServe builds cmd/conveyor and starts `conveyor serve` on a free
// loopback port; it returns the process, its base URL and its stderr so far.
func conveyorServe(t *testing.T, args ...string) (*exec.Cmd, string, *strings.Builder) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to build cmd/conveyor")
	bin := filepath.Join(t.TempDir(), "conveyor")
	build := exec.Command(goTool, "build", "-o", bin, "../cmd/conveyor")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/conveyor:\n%s", out)

	cmd := exec.Command(bin, append([]string{"serve", "--host", "127.0.0.1", "--port", "0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	var log strings.Builder
	listening := regexp.MustCompile(`listening on (http://\S+)`)
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			go func() { // keep draining stderr so that the server never blocks on it
				for sc.Scan() {
					log.WriteString(sc.Text() + "\n")
				}
			}()
			return cmd, m[1], &log
		}
	}
	t.Fatalf("conveyor serve exited before listening:\n%s", log.String())
	return nil, "", nil
}

// runNodeTest runs one of serve/e2e's node:test files against the server at base.
func runNodeTest(t *testing.T, node, file, base string, log *strings.Builder, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	test := exec.CommandContext(ctx, node, file)
	test.Dir = "e2e"
	test.Env = append(os.Environ(), "OPENAI_BASE_URL="+base+"/v1", "CONVEYOR_MODEL="+modelID, "OPENAI_API_KEY=not-needed")
	test.Env = append(test.Env, env...)
	out, err := test.CombinedOutput()
	require.NoError(t, err, "node e2e/%s:\n%s\nserver log:\n%s", file, out, log.String())
	require.Contains(t, string(out), "# fail 0", "node e2e/%s:\n%s", file, out)
	t.Logf("e2e/%s passed in %.1f s", file, time.Since(start).Seconds())
}

// The official openai npm client against `conveyor serve`: serve/e2e/openai.test.mjs,
// then structured output (structured.test.mjs).
// Then SIGTERM drains the request in flight and the server exits 0.
func TestOpenAIClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node (20 or later) is needed for the end-to-end test with the openai client: %v", err)
	}
	for _, pkg := range []string{"openai", "ajv", "ajv-formats"} {
		if _, err := os.Stat("e2e/node_modules/" + pkg + "/package.json"); err != nil {
			t.Fatalf("serve/e2e/node_modules lacks %s: run (cd serve/e2e && npm ci --no-audit --no-fund) (%v)", pkg, err)
		}
	}
	cmd, base, log := conveyorServe(t, "-m", storiesPath(t), "--chat-template", "chatml", "--backend", "cpu", "-t", "2",
		"--parallel", "4", "-c", "2048") // 512 tokens a sequence: room for the schemas' answers

	for _, file := range []string{"openai.test.mjs", "structured.test.mjs"} {
		runNodeTest(t, node, file, base, log)
	}

	// A long stream is in flight when SIGTERM comes: it finishes, then the server exits 0.
	body := `{"model": "stories260K", "prompt": "Once upon a time", "max_tokens": 400, "ignore_eos": true, "temperature": 0, "stream": true}`
	resp, err := http.Post(base+"/v1/completions", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	first, err := rd.ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(first, "data: {"), first)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	rest, err := io.ReadAll(rd)
	require.NoError(t, err)
	require.Contains(t, string(rest), `"finish_reason":"length"`)
	require.True(t, strings.HasSuffix(string(rest), "data: [DONE]\n\n"), "the stream ends whole")

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		require.NoError(t, err, "exit status after SIGTERM; log:\n%s", log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("conveyor serve still running 30 s after SIGTERM; log:\n%s", log.String())
	}
	_, err = http.Get(base + "/health")
	require.Error(t, err, "nothing listens after the drain")
}

// Tool calls through the openai client as bare JSON (tools.test.mjs), with
// a template that has no tool-call syntax of its own (phi3's).
func TestOpenAIClientToolsJSON(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node (20 or later) is needed for the end-to-end test with the openai client: %v", err)
	}
	_, base, log := conveyorServe(t, "-m", storiesPath(t), "--chat-template", "phi3", "--backend", "cpu", "-t", "2",
		"--parallel", "4", "-c", "2048")
	runNodeTest(t, node, "tools.test.mjs", base, log)
}

// Tool calls through the openai client with Qwen 3's template: Hermes
// <tool_call> tags around each call (serve/e2e/tools.test.mjs).
func TestOpenAIClientToolsHermes(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node (20 or later) is needed for the end-to-end test with the openai client: %v", err)
	}
	template := testdata.Path(t, "chat-templates/templates/Qwen-Qwen3-0.6B.jinja")
	_, base, log := conveyorServe(t, "-m", storiesPath(t), "--chat-template", template, "--backend", "cpu", "-t", "2",
		"--parallel", "2", "-c", "4096")
	runNodeTest(t, node, "tools.test.mjs", base, log, "TOOLS_QUICK=1") // the tools fill a long system prompt
}
