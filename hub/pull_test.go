package hub

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/models/stories260k"
)

const testRepo = "someone/tiny-GGUF"

// payload is a real GGUF (stories260K), so the files pulled have headers.
func payload() []byte { return stories260k.GGUF() }

func testClient(f *fakeHub, logs *bytes.Buffer) *Client {
	var mu sync.Mutex
	return &Client{
		Endpoint:     f.hub.URL,
		HTTP:         NewHTTPClient(),
		Retries:      3,
		Backoff:      10 * time.Millisecond,
		StallTimeout: 5 * time.Second,
		Log: func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			if logs != nil {
				logs.WriteString(strings.TrimSpace(fmtS(format, args...)) + "\n")
			}
		},
	}
}

func testStore(t *testing.T) *Store { return &Store{Root: t.TempDir()} }

// storeFiles lists every file under the store's models folder.
func storeFiles(t *testing.T, s *Store) []string {
	var out []string
	filepath.Walk(filepath.Join(s.Root, "models"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(s.Root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

// noFinalFile fails unless the store lacks the final file (partial files may stay).
func noFinalFile(t *testing.T, s *Store, name string) {
	t.Helper()
	p, _ := s.FilePath(testRepo, name)
	if _, err := os.Stat(p); err == nil {
		t.Fatalf("%s is in the store after a failed pull", name)
	}
	ms, _ := s.Manifests("")
	if len(ms) != 0 {
		t.Fatalf("a manifest was written after a failed pull: %+v", ms[0])
	}
}

func checkPulled(t *testing.T, s *Store, m *Manifest, want []byte) {
	t.Helper()
	p, err := s.ModelPath(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("pulled file differs from the served one (%d vs %d bytes)", len(got), len(want))
	}
	for _, suffix := range []string{".part", ".etag", ".lock"} {
		if _, err := os.Stat(p + suffix); err == nil {
			t.Errorf("%s left behind", filepath.Base(p+suffix))
		}
	}
}

func TestPullRedirectAndVerify(t *testing.T) {
	data := payload()
	f := newFakeHub(t, testRepo, map[string][]byte{
		"tiny-Q4_K_M.gguf": data,
		"tiny-Q8_0.gguf":   append([]byte(nil), data...)[:len(data)-1],
	})
	f.token = "hf_secret"
	s := testStore(t)
	var logs bytes.Buffer
	c := testClient(f, &logs)
	c.Token = "hf_secret"
	m, err := c.Pull(context.Background(), s, Ref{Repo: testRepo}, "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Quant != "Q4_K_M" || m.Model != "tiny-Q4_K_M.gguf" || m.Revision != "main" || m.Size != int64(len(data)) ||
		m.Files[0].SHA256 != sha(data) {
		t.Fatalf("manifest %+v", m)
	}
	checkPulled(t, s, m, data)
	var sawHub, sawCDN bool
	for _, r := range f.requests() {
		switch r.server {
		case "hub":
			sawHub = true
			if r.auth != "Bearer hf_secret" {
				t.Errorf("hub request %s without the token", r.path)
			}
		case "cdn":
			sawCDN = true
			if r.auth != "" {
				t.Errorf("the token went to the CDN, another host: %q", r.auth)
			}
		}
	}
	if !sawHub || !sawCDN {
		t.Fatalf("requests: %+v", f.requests())
	}
	if strings.Contains(logs.String(), "hf_secret") {
		t.Fatal("the token was logged")
	}
	// The manifest is found by name, and a second pull changes nothing.
	got, err := s.Find(Ref{Repo: testRepo, Quant: "q4_k_m"})
	if err != nil || got.Name() != testRepo+":Q4_K_M" {
		t.Fatalf("Find: %v %v", got, err)
	}
	n := len(f.requests())
	if _, err := c.Pull(context.Background(), s, Ref{Repo: testRepo, Quant: "Q4_K_M"}, ""); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.requests()[n:] {
		if r.server == "cdn" {
			t.Fatal("pulling an up-to-date model downloaded it again")
		}
	}
	if !strings.Contains(logs.String(), "up to date") {
		t.Errorf("logs: %s", logs.String())
	}
}

func TestPullMissingQuantListsQuants(t *testing.T) {
	data := payload()
	f := newFakeHub(t, testRepo, map[string][]byte{"tiny.Q8_0.gguf": data, "tiny.F16.gguf": data[:100], "mmproj-tiny-f16.gguf": data[:10]})
	s := testStore(t)
	_, err := testClient(f, nil).Pull(context.Background(), s, Ref{Repo: testRepo, Quant: "Q5_K_S"}, "")
	if err == nil || !strings.Contains(err.Error(), "F16, Q8_0") || !strings.Contains(err.Error(), "Q5_K_S") {
		t.Fatalf("err = %v", err)
	}
	_, err = testClient(f, nil).Pull(context.Background(), s, Ref{Repo: testRepo}, "")
	if err == nil || !strings.Contains(err.Error(), "default quantization Q4_K_M") {
		t.Fatalf("err = %v", err)
	}
	// Case does not matter.
	m, err := testClient(f, nil).Pull(context.Background(), s, Ref{Repo: testRepo, Quant: "q8_0"}, "")
	if err != nil {
		t.Fatal(err)
	}
	checkPulled(t, s, m, data)
}

func TestPullGated401(t *testing.T) {
	f := newFakeHub(t, testRepo, map[string][]byte{"tiny-Q4_K_M.gguf": payload()})
	f.token = "hf_right"
	s := testStore(t)
	_, err := testClient(f, nil).Pull(context.Background(), s, Ref{Repo: testRepo}, "")
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != 401 || !strings.Contains(err.Error(), "gated") || !strings.Contains(err.Error(), "HF_TOKEN") {
		t.Fatalf("err = %v", err)
	}
	c := testClient(f, nil)
	c.Token = "hf_wrong"
	_, err = c.Pull(context.Background(), s, Ref{Repo: testRepo}, "")
	if err == nil || !strings.Contains(err.Error(), "gated") || strings.Contains(err.Error(), "hf_wrong") {
		t.Fatalf("err = %v", err)
	}
	noFinalFile(t, s, "tiny-Q4_K_M.gguf")
}

func TestPull404(t *testing.T) {
	f := newFakeHub(t, testRepo, map[string][]byte{"tiny-Q4_K_M.gguf": payload()})
	f.missing = true
	s := testStore(t)
	_, err := testClient(f, nil).Pull(context.Background(), s, Ref{Repo: testRepo}, "")
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("err = %v", err)
	}
	// A file the listing has but resolve does not.
	f.missing = false
	err = testClient(f, nil).Download(context.Background(), File{Repo: testRepo, Path: "gone.gguf"}, filepath.Join(s.Root, "gone.gguf"))
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "gone.gguf") {
		t.Fatalf("err = %v", err)
	}
	noFinalFile(t, s, "tiny-Q4_K_M.gguf")
}

func TestPull5xxThenSuccess(t *testing.T) {
	data := payload()
	f := newFakeHub(t, testRepo, map[string][]byte{"tiny-Q4_K_M.gguf": data})
	f.cdnHook = func(n int, w http.ResponseWriter, r *http.Request, _ []byte) bool {
		if n < 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	s := testStore(t)
	var logs bytes.Buffer
	m, err := testClient(f, &logs).Pull(context.Background(), s, Ref{Repo: testRepo}, "")
	if err != nil {
		t.Fatal(err)
	}
	checkPulled(t, s, m, data)
	if !strings.Contains(logs.String(), "503") || !strings.Contains(logs.String(), "trying again") {
		t.Errorf("logs: %s", logs.String())
	}

	// Always 5xx: a clear error once the retries are spent.
	f2 := newFakeHub(t, testRepo, map[string][]byte{"tiny-Q4_K_M.gguf": data})
	f2.cdnHook = func(n int, w http.ResponseWriter, r *http.Request, _ []byte) bool {
		http.Error(w, "down", http.StatusBadGateway)
		return true
	}
	s2 := testStore(t)
	_, err = testClient(f2, nil).Pull(context.Background(), s2, Ref{Repo: testRepo}, "")
	if err == nil || !strings.Contains(err.Error(), "502") {
		t.Fatalf("err = %v", err)
	}
	noFinalFile(t, s2, "tiny-Q4_K_M.gguf")
}

func TestPullDroppedConnectionResumes(t *testing.T) {
	data := payload()
	const cut = 300_000
	f := newFakeHub(t, testRepo, map[string][]byte{"tiny-Q4_K_M.gguf": data})
	f.cdnHook = func(n int, w http.ResponseWriter, r *http.Request, data []byte) bool {
		if n == 0 {
			dropAfter(t, w, r, data, cut)
			return true
		}
		return false
	}
	s := testStore(t)
	var logs bytes.Buffer
	m, err := testClient(f, &logs).Pull(context.Background(), s, Ref{Repo: testRepo}, "")
	if err != nil {
		t.Fatal(err)
	}
	checkPulled(t, s, m, data)
	var cdn []seenReq
	for _, r := range f.requests() {
		if r.server == "cdn" {
			cdn = append(cdn, r)
		}
	}
	if len(cdn) != 2 || cdn[0].rng != "" || cdn[1].rng != "bytes=300000-" || cdn[1].ifRange != `"`+sha(data)+`"` {
		t.Fatalf("CDN requests: %+v", cdn)
	}
	if !strings.Contains(logs.String(), "dropped") || !strings.Contains(logs.String(), "resuming") {
		t.Errorf("logs: %s", logs.String())
	}
}

func TestPullWrongChecksum(t *testing.T) {
	data := payload()
	f := newFakeHub(t, testRepo, map[string][]byte{"tiny-Q4_K_M.gguf": data})
	f.badSHA["tiny-Q4_K_M.gguf"] = strings.Repeat("ab", 32)
	s := testStore(t)
	_, err := testClient(f, nil).Pull(context.Background(), s, Ref{Repo: testRepo}, "")
	if err == nil || !strings.Contains(err.Error(), "SHA-256") || !strings.Contains(err.Error(), "deleted the partial file") {
		t.Fatalf("err = %v", err)
	}
	noFinalFile(t, s, "tiny-Q4_K_M.gguf")
	p, _ := s.FilePath(testRepo, "tiny-Q4_K_M.gguf")
	if _, err := os.Stat(p + ".part"); err == nil {
		t.Fatal("the partial file of a wrong checksum was kept")
	}
}

func TestPullSlowServerTimesOut(t *testing.T) {
	data := payload()
	f := newFakeHub(t, testRepo, map[string][]byte{"tiny-Q4_K_M.gguf": data})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.cdnHook = func(n int, w http.ResponseWriter, r *http.Request, data []byte) bool {
		w.Header().Set("Content-Length", itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:1000])
		w.(http.Flusher).Flush()
		select { // then nothing
		case <-release:
		case <-r.Context().Done():
		}
		return true
	}
	s := testStore(t)
	c := testClient(f, nil)
	c.StallTimeout = 100 * time.Millisecond
	c.Retries = 1
	start := time.Now()
	_, err := c.Pull(context.Background(), s, Ref{Repo: testRepo}, "")
	if err == nil || !strings.Contains(err.Error(), "no data for 100ms") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("the stall took %v to notice", time.Since(start))
	}
	noFinalFile(t, s, "tiny-Q4_K_M.gguf")
}

func TestPullCancelledThenResumed(t *testing.T) {
	data := payload()
	f := newFakeHub(t, testRepo, map[string][]byte{"tiny-Q4_K_M.gguf": data})
	// A slow CDN: 64 KiB at a time, so that the cancel lands midway.
	f.cdnHook = func(n int, w http.ResponseWriter, r *http.Request, data []byte) bool {
		if n > 0 {
			return false
		}
		w.Header().Set("Content-Length", itoa(len(data)))
		w.Header().Set("ETag", `"`+sha(data)+`"`)
		w.WriteHeader(http.StatusOK)
		for i := 0; i < len(data); i += 64 << 10 {
			if _, err := w.Write(data[i:min(i+64<<10, len(data))]); err != nil {
				return true
			}
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
		}
		return true
	}
	s := testStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	c := testClient(f, nil)
	c.Progress = func(string, int64) Progress {
		return progressFunc(func(done int64) {
			if done >= 200_000 {
				cancel()
			}
		})
	}
	_, err := c.Pull(ctx, s, Ref{Repo: testRepo}, "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	noFinalFile(t, s, "tiny-Q4_K_M.gguf")
	p, _ := s.FilePath(testRepo, "tiny-Q4_K_M.gguf")
	st, err := os.Stat(p + ".part")
	if err != nil || st.Size() < 200_000 || st.Size() >= int64(len(data)) {
		t.Fatalf("partial file: %v %v", st, err)
	}
	partial := st.Size()

	m, err := testClient(f, nil).Pull(context.Background(), s, Ref{Repo: testRepo}, "")
	if err != nil {
		t.Fatal(err)
	}
	checkPulled(t, s, m, data)
	reqs := f.requests()
	last := reqs[len(reqs)-1]
	if last.server != "cdn" || last.rng != "bytes="+itoa(int(partial))+"-" {
		t.Fatalf("the restarted pull asked for %+v, want a range from %d", last, partial)
	}
}

type progressFunc func(int64)

func (p progressFunc) Update(done int64) { p(done) }
func (p progressFunc) Finish()           {}

// writePartial leaves a partial download of the first n bytes, with an ETag.
func writePartial(t *testing.T, s *Store, data []byte, n int, etag string) string {
	p, _ := s.FilePath(testRepo, "tiny-Q4_K_M.gguf")
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p+".part", data[:n], 0o644); err != nil {
		t.Fatal(err)
	}
	if etag != "" {
		os.WriteFile(p+".etag", []byte(etag), 0o644)
	}
	return p
}

func TestPullServerIgnoresRange(t *testing.T) {
	data := payload()
	f := newFakeHub(t, testRepo, map[string][]byte{"tiny-Q4_K_M.gguf": data})
	f.cdnHook = func(n int, w http.ResponseWriter, r *http.Request, data []byte) bool {
		w.Header().Set("Content-Length", itoa(len(data)))
		w.Write(data) // 200, whatever the Range
		return true
	}
	s := testStore(t)
	// A partial file whose bytes are wrong: a restart from zero must not keep them.
	garbage := bytes.Repeat([]byte{0xee}, 5000)
	writePartial(t, s, garbage, 5000, "")
	var logs bytes.Buffer
	m, err := testClient(f, &logs).Pull(context.Background(), s, Ref{Repo: testRepo}, "")
	if err != nil {
		t.Fatal(err)
	}
	checkPulled(t, s, m, data)
	if !strings.Contains(logs.String(), "starting over") {
		t.Errorf("logs: %s", logs.String())
	}
}

func TestPullStaleETagRestarts(t *testing.T) {
	data := payload()
	f := newFakeHub(t, testRepo, map[string][]byte{"tiny-Q4_K_M.gguf": data})
	s := testStore(t)
	// The partial file came from another version of the file: If-Range with its
	// ETag makes the CDN send the whole file.
	old := bytes.Repeat([]byte{1}, 10000)
	writePartial(t, s, old, 10000, `"an-old-version"`)
	m, err := testClient(f, nil).Pull(context.Background(), s, Ref{Repo: testRepo}, "")
	if err != nil {
		t.Fatal(err)
	}
	checkPulled(t, s, m, data)
	for _, r := range f.requests() {
		if r.server == "cdn" && r.ifRange != `"an-old-version"` {
			t.Errorf("CDN request %+v without the partial file's If-Range", r)
		}
	}
}

func TestPullConcurrentSameFile(t *testing.T) {
	data := payload()
	f := newFakeHub(t, testRepo, map[string][]byte{"tiny-Q4_K_M.gguf": data})
	f.cdnHook = func(n int, w http.ResponseWriter, r *http.Request, data []byte) bool {
		time.Sleep(300 * time.Millisecond) // keep the first holder busy
		return false
	}
	s := testStore(t)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	logs := make([]bytes.Buffer, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = testClient(f, &logs[i]).Pull(context.Background(), s, Ref{Repo: testRepo}, "")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("pull %d: %v", i, err)
		}
	}
	m, err := s.Find(Ref{Repo: testRepo})
	if err != nil {
		t.Fatal(err)
	}
	checkPulled(t, s, m, data)
	if f.cdnCalls != 1 {
		t.Errorf("the file was downloaded %d times", f.cdnCalls)
	}
	if !strings.Contains(logs[0].String()+logs[1].String(), "another process is downloading") {
		t.Errorf("logs: %q %q", logs[0].String(), logs[1].String())
	}
}

func TestPullDiskFull(t *testing.T) {
	data := payload()
	f := newFakeHub(t, testRepo, map[string][]byte{"tiny-Q4_K_M.gguf": data})
	written := 0
	writePart = func(file *os.File, p []byte) (int, error) {
		if written+len(p) > 100_000 {
			return 0, &os.PathError{Op: "write", Path: file.Name(), Err: syscall.ENOSPC}
		}
		written += len(p)
		return file.Write(p)
	}
	t.Cleanup(func() { writePart = func(f *os.File, p []byte) (int, error) { return f.Write(p) } })
	s := testStore(t)
	_, err := testClient(f, nil).Pull(context.Background(), s, Ref{Repo: testRepo}, "")
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "disk is full") {
		t.Fatalf("err = %v", err)
	}
	noFinalFile(t, s, "tiny-Q4_K_M.gguf")
	if f.cdnCalls != 1 {
		t.Errorf("a full disk was retried (%d requests)", f.cdnCalls)
	}
}

func TestPullUnreachable(t *testing.T) {
	f := newFakeHub(t, testRepo, nil)
	c := testClient(f, nil)
	f.hub.Close()
	c.Retries = 1
	_, err := c.Pull(context.Background(), testStore(t), Ref{Repo: testRepo}, "")
	if err == nil || !strings.Contains(err.Error(), "cannot reach") {
		t.Fatalf("err = %v", err)
	}
}

func TestPullOffline(t *testing.T) {
	data := payload()
	f := newFakeHub(t, testRepo, map[string][]byte{"tiny-Q4_K_M.gguf": data})
	s := testStore(t)
	c := testClient(f, nil)
	c.Offline = true
	_, err := c.Pull(context.Background(), s, Ref{Repo: testRepo}, "")
	if !errors.Is(err, ErrNotPulled) || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
		t.Fatalf("err = %v", err)
	}
	if len(f.requests()) != 0 {
		t.Fatal("offline, a request was made")
	}
	if _, err := testClient(f, nil).Pull(context.Background(), s, Ref{Repo: testRepo}, ""); err != nil {
		t.Fatal(err)
	}
	n := len(f.requests())
	m, err := c.Pull(context.Background(), s, Ref{Repo: testRepo}, "")
	if err != nil {
		t.Fatal(err)
	}
	checkPulled(t, s, m, data)
	if len(f.requests()) != n {
		t.Fatal("offline, a request was made")
	}
}

// splitGGUF writes data's model as n parts in llama.cpp's split format.
func splitGGUF(t *testing.T, data []byte, n int) [][]byte {
	f, err := gguf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	var parts [][]byte
	per := (len(f.Tensors) + n - 1) / n
	for i := range n {
		w := gguf.NewWriter()
		if i == 0 {
			for _, kv := range f.KVs {
				if err := w.AddKV(kv.Key, kv); err != nil {
					t.Fatal(err)
				}
			}
		}
		w.AddKV(KeySplitNo, uint16(i))
		w.AddKV(KeySplitCount, uint16(n))
		w.AddKV(KeySplitTensors, int32(len(f.Tensors)))
		for _, ti := range f.Tensors[i*per : min((i+1)*per, len(f.Tensors))] {
			if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, f.TensorData(ti)); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if _, err := w.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, buf.Bytes())
	}
	return parts
}

func TestPullSplitModelMerges(t *testing.T) {
	data := payload()
	parts := splitGGUF(t, data, 3)
	f := newFakeHub(t, testRepo, map[string][]byte{
		"Q8_0/tiny-Q8_0-00001-of-00003.gguf": parts[0],
		"Q8_0/tiny-Q8_0-00002-of-00003.gguf": parts[1],
		"Q8_0/tiny-Q8_0-00003-of-00003.gguf": parts[2],
		"tiny-F16.gguf":                      data,
	})
	s := testStore(t)
	m, err := testClient(f, nil).Pull(context.Background(), s, Ref{Repo: testRepo, Quant: "Q8_0"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Model != "Q8_0/tiny-Q8_0.gguf" || len(m.Files) != 3 || m.Quant != "Q8_0" {
		t.Fatalf("manifest %+v", m)
	}
	p, _ := s.ModelPath(m)
	merged, err := gguf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer merged.Close()
	orig, _ := gguf.Parse(data)
	if len(merged.Tensors) != len(orig.Tensors) || len(merged.KVs) != len(orig.KVs) {
		t.Fatalf("merged: %d tensors, %d keys; want %d, %d", len(merged.Tensors), len(merged.KVs), len(orig.Tensors), len(orig.KVs))
	}
	for _, ti := range orig.Tensors {
		mt, ok := merged.Tensor(ti.Name)
		if !ok || !bytes.Equal(merged.TensorData(mt), orig.TensorData(ti)) {
			t.Fatalf("tensor %s differs after the merge", ti.Name)
		}
	}
	if _, ok := merged.Lookup(KeySplitCount); ok {
		t.Error("the merged file keeps split.count")
	}
	// Only the merged file and the manifest stay.
	got := storeFiles(t, s)
	if len(got) != 2 {
		t.Fatalf("store files: %v", got)
	}
	// Removing it leaves nothing.
	if err := s.Remove(m); err != nil {
		t.Fatal(err)
	}
	if got := storeFiles(t, s); len(got) != 0 {
		t.Fatalf("after rm: %v", got)
	}
}

func TestDefaultRoot(t *testing.T) {
	t.Setenv("CONVEYOR_MODELS", "/x/models")
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if r, _ := DefaultRoot(); r != "/x/models" {
		t.Fatal(r)
	}
	t.Setenv("CONVEYOR_MODELS", "")
	if r, _ := DefaultRoot(); r != "/x/cache/conveyor" {
		t.Fatal(r)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/x/home")
	if r, _ := DefaultRoot(); r != "/x/home/.cache/conveyor" {
		t.Fatal(r)
	}
}

func TestNewClientEnv(t *testing.T) {
	t.Setenv("HF_ENDPOINT", "https://mirror.example/")
	t.Setenv("HF_TOKEN", "hf_x")
	t.Setenv("HF_HUB_OFFLINE", "1")
	c := NewClient()
	if c.Endpoint != "https://mirror.example" || c.Token != "hf_x" || !c.Offline {
		t.Fatalf("%+v", c)
	}
}
