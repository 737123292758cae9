package hub

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeHub behaves as the Hub does: a tree listing, and resolve answering with
// a 302 redirect to a second server, the "CDN", that serves the LFS objects
// with ETags and Range requests.
type fakeHub struct {
	t        *testing.T
	hub, cdn *httptest.Server
	repo     string
	files    map[string][]byte // path in the repo → bytes
	token    string            // when set, the repo is gated: requests need it
	badSHA   map[string]string // a listing's sha256 that lies
	missing  bool              // the repo does not exist

	mu       sync.Mutex
	seen     []seenReq
	cdnCalls int
	// cdnHook may handle the n-th CDN request (from 0) itself, returning true.
	cdnHook func(n int, w http.ResponseWriter, r *http.Request, data []byte) bool
}

type seenReq struct {
	server, path, rng, ifRange, auth string
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func newFakeHub(t *testing.T, repo string, files map[string][]byte) *fakeHub {
	f := &fakeHub{t: t, repo: repo, files: files, badSHA: map[string]string{}}
	f.cdn = httptest.NewServer(http.HandlerFunc(f.serveCDN))
	f.hub = httptest.NewServer(http.HandlerFunc(f.serveHub))
	t.Cleanup(func() { f.hub.Close(); f.cdn.Close() })
	return f
}

func (f *fakeHub) record(server string, r *http.Request) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, seenReq{server, r.URL.Path, r.Header.Get("Range"), r.Header.Get("If-Range"), r.Header.Get("Authorization")})
	if server == "cdn" {
		f.cdnCalls++
		return f.cdnCalls - 1
	}
	return 0
}

func (f *fakeHub) requests() []seenReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seenReq(nil), f.seen...)
}

func (f *fakeHub) authorized(w http.ResponseWriter, r *http.Request) bool {
	if f.token != "" && r.Header.Get("Authorization") != "Bearer "+f.token {
		http.Error(w, `{"error":"Access to model is restricted"}`, http.StatusUnauthorized)
		return false
	}
	return true
}

func (f *fakeHub) serveHub(w http.ResponseWriter, r *http.Request) {
	f.record("hub", r)
	if !f.authorized(w, r) {
		return
	}
	if f.missing {
		http.Error(w, `{"error":"Repository not found"}`, http.StatusNotFound)
		return
	}
	treePrefix := "/api/models/" + f.repo + "/tree/"
	resolvePrefix := "/" + f.repo + "/resolve/"
	switch {
	case strings.HasPrefix(r.URL.Path, treePrefix):
		if r.URL.Query().Get("recursive") != "true" {
			http.Error(w, "want recursive", http.StatusBadRequest)
			return
		}
		type lfs struct {
			OID  string `json:"oid"`
			Size int    `json:"size"`
		}
		type entry struct {
			Type string `json:"type"`
			OID  string `json:"oid"`
			Size int    `json:"size"`
			Path string `json:"path"`
			LFS  *lfs   `json:"lfs,omitempty"`
		}
		list := []entry{{Type: "file", OID: "0123", Size: 20, Path: "README.md"}, {Type: "directory", OID: "4567", Path: "sub"}}
		for p, b := range f.files {
			s := sha(b)
			if bad, ok := f.badSHA[p]; ok {
				s = bad
			}
			list = append(list, entry{Type: "file", OID: "89ab", Size: len(b), Path: p, LFS: &lfs{OID: s, Size: len(b)}})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(list)
	case strings.HasPrefix(r.URL.Path, resolvePrefix):
		rest := strings.TrimPrefix(r.URL.Path, resolvePrefix)
		_, file, _ := strings.Cut(rest, "/")
		b, ok := f.files[file]
		if !ok {
			w.Header().Set("X-Error-Code", "EntryNotFound")
			http.Error(w, "Entry not found", http.StatusNotFound)
			return
		}
		w.Header().Set("X-Linked-Size", itoa(len(b)))
		w.Header().Set("X-Linked-Etag", `"`+sha(b)+`"`)
		w.Header().Set("ETag", `"hub-etag"`)
		w.Header().Set("Location", f.cdn.URL+"/lfs/"+sha(b)+"?X-Amz-Signature=secret")
		w.WriteHeader(http.StatusFound)
	default:
		http.NotFound(w, r)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func (f *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	n := f.record("cdn", r)
	id := strings.TrimPrefix(r.URL.Path, "/lfs/")
	var data []byte
	for _, b := range f.files {
		if sha(b) == id {
			data = b
		}
	}
	if data == nil {
		http.NotFound(w, r)
		return
	}
	if f.cdnHook != nil && f.cdnHook(n, w, r, data) {
		return
	}
	w.Header().Set("ETag", `"`+id+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// dropAfter sends the response's headers and the first n bytes of what was
// asked for, then closes the connection.
func dropAfter(t *testing.T, w http.ResponseWriter, r *http.Request, data []byte, n int) {
	start := 0
	if rng := r.Header.Get("Range"); rng != "" {
		s, ok := contentRangeStart(strings.Replace(strings.TrimSuffix(rng, "-"), "=", " ", 1) + "-")
		if !ok {
			t.Errorf("bad range %q", rng)
		}
		start = int(s)
		w.Header().Set("Content-Range", "bytes "+itoa(start)+"-"+itoa(len(data)-1)+"/"+itoa(len(data)))
		w.Header().Set("Content-Length", itoa(len(data)-start))
		w.Header().Set("ETag", `"`+sha(data)+`"`)
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.Header().Set("Content-Length", itoa(len(data)))
		w.Header().Set("ETag", `"`+sha(data)+`"`)
		w.WriteHeader(http.StatusOK)
	}
	w.Write(data[start : start+n])
	w.(http.Flusher).Flush()
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	conn.Close()
}
