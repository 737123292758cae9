package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// File is one file to download from a repository.
type File struct {
	Repo     string
	Revision string // "" is main
	Path     string // in the repository
	Size     int64  // expected size; 0: unknown
	SHA256   string // expected SHA-256 in hex; "": not checked
}

var (
	errChecksum = errors.New("checksum mismatch")
	errStalled  = errors.New("stalled")

	errRangeRefused = errors.New("the server refused the range (HTTP 416)")
)

// writePart writes to the partial file; tests replace it to fake a full disk.
var writePart = func(f *os.File, p []byte) (int, error) { return f.Write(p) }

// dlState is what one download carries from try to try: the hash of the
// partial file's bytes so far.
type dlState struct {
	h      hash.Hash
	hashed int64
	prog   Progress
}

// Download fetches f to dest. The bytes go to dest+".part" (kept between runs,
// so that an interrupted download resumes with a Range request) and dest
// appears, by rename, only once complete and checked against f.SHA256. A lock
// on dest+".lock" keeps two processes from writing the same file.
func (c *Client) Download(ctx context.Context, f File, dest string) error {
	if ok, err := complete(dest, f.Size); ok || err != nil {
		return err
	}
	if c.Offline {
		return fmt.Errorf("HF_HUB_OFFLINE is set: not downloading %s/%s", f.Repo, f.Path)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	unlock, err := c.lock(ctx, dest)
	if err != nil {
		return err
	}
	defer unlock()
	// Another process may have finished it while we waited.
	if ok, err := complete(dest, f.Size); ok || err != nil {
		return err
	}
	st := &dlState{h: sha256.New()}
	defer func() {
		if st.prog != nil {
			st.prog.Finish()
		}
	}()
	name := path2name(f)
	err = c.retry(ctx, "downloading "+name, func() error { return c.fetch(ctx, f, dest, st) })
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	os.Remove(dest + ".lock")
	return nil
}

func path2name(f File) string { return f.Repo + "/" + f.Path }

// complete reports whether dest is there with the expected size (any size
// when size is 0). A file of another size is an error: it is not ours to delete.
func complete(dest string, size int64) (bool, error) {
	st, err := os.Stat(dest)
	if err != nil {
		return false, nil
	}
	if size > 0 && st.Size() != size {
		return false, fmt.Errorf("%s is there with %d bytes, not the %d expected: remove it (conveyor rm) and pull again", dest, st.Size(), size)
	}
	return true, nil
}

// lock takes an exclusive flock on dest+".lock", waiting (and saying so) while
// another process holds it.
func (c *Client) lock(ctx context.Context, dest string) (func(), error) {
	lf, err := os.OpenFile(dest+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	said := false
	for {
		err := unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { unix.Flock(int(lf.Fd()), unix.LOCK_UN); lf.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			lf.Close()
			return nil, fmt.Errorf("locking %s: %w", dest+".lock", err)
		}
		if !said {
			c.logf("another process is downloading %s; waiting for it", filepath.Base(dest))
			said = true
		}
		select {
		case <-ctx.Done():
			lf.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// rehash makes st's hash cover the first n bytes of the partial file.
func (st *dlState) rehash(part *os.File, n int64) error {
	if st.hashed == n {
		return nil
	}
	st.h.Reset()
	st.hashed = 0
	if _, err := part.Seek(0, io.SeekStart); err != nil {
		return err
	}
	k, err := io.Copy(st.h, io.LimitReader(part, n))
	st.hashed = k
	if err != nil {
		return err
	}
	if k != n {
		return fmt.Errorf("partial file shrank while reading it")
	}
	return nil
}

func (c *Client) resolveURL(f File) string {
	rev := f.Revision
	if rev == "" {
		rev = "main"
	}
	return fmt.Sprintf("%s/%s/resolve/%s/%s", c.Endpoint, escapePath(f.Repo), escapePath(rev), escapePath(f.Path))
}

// fetch is one try: it asks for the bytes past the partial file's end and
// appends them, then checks and renames the file when it is whole.
func (c *Client) fetch(ctx context.Context, f File, dest string, st *dlState) (err error) {
	partName := dest + ".part"
	etagName := dest + ".etag"
	part, err := os.OpenFile(partName, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if part != nil {
			part.Close()
		}
	}()
	info, err := part.Stat()
	if err != nil {
		return err
	}
	have := info.Size()
	if f.Size > 0 && have > f.Size {
		c.logf("%s: the partial file is larger than the file (%d > %d bytes): starting over", path2name(f), have, f.Size)
		if err := restart(part, st); err != nil {
			return err
		}
		have = 0
	}
	if err := st.rehash(part, have); err != nil {
		return err
	}
	if f.Size > 0 && have == f.Size {
		return c.finish(f, dest, part, st, func() { part = nil })
	}

	tryCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := c.newRequest(tryCtx, c.resolveURL(f))
	if err != nil {
		return err
	}
	etag, _ := os.ReadFile(etagName)
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
		if len(etag) > 0 {
			req.Header.Set("If-Range", string(etag))
		}
	}
	var linkedSize int64
	hc := *c.HTTP
	hc.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if r.Response != nil {
			if n, err := strconv.ParseInt(r.Response.Header.Get("X-Linked-Size"), 10, 64); err == nil {
				linkedSize = n
			}
		}
		check := c.HTTP.CheckRedirect
		if check == nil {
			check = checkRedirect
		}
		return check(r, via)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return describeNetErr(err, req.URL.Host)
	}
	defer resp.Body.Close()

	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, ok := contentRangeStart(resp.Header.Get("Content-Range"))
		if !ok || start != have {
			return fmt.Errorf("asked for bytes from %d, the server sent %q", have, resp.Header.Get("Content-Range"))
		}
		if have > 0 {
			c.logf("%s: resuming at %s", path2name(f), humanBytes(have))
		}
	case http.StatusOK:
		if have > 0 {
			c.logf("%s: the server sent the whole file instead of the rest: starting over", path2name(f))
			if err := restart(part, st); err != nil {
				return err
			}
			have = 0
		}
		if e := resp.Header.Get("ETag"); e != "" && !strings.HasPrefix(e, "W/") {
			os.WriteFile(etagName, []byte(e), 0o644)
		} else {
			os.Remove(etagName)
		}
	case http.StatusRequestedRangeNotSatisfiable:
		// The partial file may be whole already, or from another version.
		c.logf("%s: the server refused the range: starting over", path2name(f))
		if err := restart(part, st); err != nil {
			return err
		}
		os.Remove(etagName)
		return errRangeRefused
	default:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return &HTTPError{Status: resp.StatusCode, URL: stripQuery(resp.Request.URL.String()),
			What: "repository " + f.Repo + " or file " + f.Path, Token: c.Token != ""}
	}

	total := f.Size
	if total <= 0 && linkedSize > 0 {
		total = linkedSize
	}
	if total <= 0 && resp.ContentLength >= 0 {
		total = have + resp.ContentLength
	}
	if st.prog == nil && c.Progress != nil {
		st.prog = c.Progress(path2name(f), total)
	}
	if st.prog != nil {
		st.prog.Update(have)
	}
	if _, err := part.Seek(have, io.SeekStart); err != nil {
		return err
	}

	// A watchdog cancels the request when no bytes come for StallTimeout.
	var stalled atomic.Bool
	var timer *time.Timer
	if c.StallTimeout > 0 {
		timer = time.AfterFunc(c.StallTimeout, func() { stalled.Store(true); cancel() })
		defer timer.Stop()
	}
	buf := make([]byte, 256<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if timer != nil {
				timer.Reset(c.StallTimeout)
			}
			w, werr := writePart(part, buf[:n])
			st.h.Write(buf[:w])
			st.hashed += int64(w)
			have += int64(w)
			if st.prog != nil {
				st.prog.Update(have)
			}
			if werr != nil {
				if errors.Is(werr, syscall.ENOSPC) {
					need := ""
					if total > have {
						need = fmt.Sprintf(" (%s more needed)", humanBytes(total-have))
					}
					return fmt.Errorf("the disk is full writing %s%s: free some space and pull again, it resumes: %w", partName, need, werr)
				}
				return werr
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			part.Sync()
			if stalled.Load() {
				return fmt.Errorf("%w: no data for %v at %s", errStalled, c.StallTimeout, humanBytes(have))
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if rerr == io.ErrUnexpectedEOF || errors.Is(rerr, io.ErrUnexpectedEOF) {
				return fmt.Errorf("connection dropped at %s: %w", humanBytes(have), io.ErrUnexpectedEOF)
			}
			return fmt.Errorf("connection dropped at %s: %w", humanBytes(have), rerr)
		}
	}
	if total > 0 && have < total {
		part.Sync()
		return fmt.Errorf("connection dropped at %s of %s: %w", humanBytes(have), humanBytes(total), io.ErrUnexpectedEOF)
	}
	if total > 0 && have > total {
		restart(part, st)
		return fmt.Errorf("the server sent %d bytes, more than the %d expected: %w", have, total, errChecksum)
	}
	return c.finish(f, dest, part, st, func() { part = nil })
}

// finish checks the whole partial file's hash, then syncs and renames it to
// dest. A mismatch deletes the partial file. closed is called once part is
// closed here.
func (c *Client) finish(f File, dest string, part *os.File, st *dlState, closed func()) error {
	if f.SHA256 != "" {
		got := hex.EncodeToString(st.h.Sum(nil))
		if !strings.EqualFold(got, f.SHA256) {
			part.Close()
			closed()
			os.Remove(dest + ".part")
			os.Remove(dest + ".etag")
			st.h.Reset()
			st.hashed = 0
			return fmt.Errorf("%w: the download's SHA-256 is %s, the Hub's is %s: deleted the partial file (pull again to start over)",
				errChecksum, got, f.SHA256)
		}
	}
	if err := part.Sync(); err != nil {
		return err
	}
	if err := part.Close(); err != nil {
		closed()
		return err
	}
	closed()
	if err := os.Rename(dest+".part", dest); err != nil {
		return err
	}
	os.Remove(dest + ".etag")
	syncDir(filepath.Dir(dest))
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func restart(part *os.File, st *dlState) error {
	st.h.Reset()
	st.hashed = 0
	if err := part.Truncate(0); err != nil {
		return err
	}
	_, err := part.Seek(0, io.SeekStart)
	return err
}

// contentRangeStart parses the first byte of "bytes START-END/TOTAL".
func contentRangeStart(s string) (int64, bool) {
	s, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, false
	}
	a, _, ok := strings.Cut(s, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	return n, err == nil
}

func humanBytes(n int64) string {
	x := float64(n)
	for _, u := range []struct {
		div    float64
		suffix string
	}{{1 << 40, "TiB"}, {1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if x >= u.div {
			return fmt.Sprintf("%.1f %s", x/u.div, u.suffix)
		}
	}
	return fmt.Sprintf("%d B", n)
}
