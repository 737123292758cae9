package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// DefaultEndpoint is the Hub's address; HF_ENDPOINT replaces it (a mirror).
const DefaultEndpoint = "https://huggingface.co"

// Client talks to a Hub. The zero value is not usable; see NewClient.
type Client struct {
	Endpoint string // no trailing slash
	Token    string // HF_TOKEN; sent as a bearer token, never printed
	Offline  bool   // HF_HUB_OFFLINE: use only the store

	HTTP *http.Client // redirects drop Authorization when the host changes

	Retries      int           // further tries after a 5xx or a dropped connection
	Backoff      time.Duration // first wait between tries, doubled each time
	StallTimeout time.Duration // a download with no bytes for this long is retried

	Log      func(format string, args ...any) // notes (retries, resumes); nil: none
	Progress func(name string, total int64) Progress
}

// NewClient is a client configured from the environment: HF_ENDPOINT,
// HF_TOKEN (or HUGGING_FACE_HUB_TOKEN) and HF_HUB_OFFLINE.
func NewClient() *Client {
	c := &Client{
		Endpoint:     DefaultEndpoint,
		Retries:      5,
		Backoff:      time.Second,
		StallTimeout: 60 * time.Second,
	}
	if e := strings.TrimRight(os.Getenv("HF_ENDPOINT"), "/"); e != "" {
		c.Endpoint = e
	}
	c.Token = os.Getenv("HF_TOKEN")
	if c.Token == "" {
		c.Token = os.Getenv("HUGGING_FACE_HUB_TOKEN")
	}
	switch strings.ToLower(os.Getenv("HF_HUB_OFFLINE")) {
	case "1", "true", "yes", "on":
		c.Offline = true
	}
	c.HTTP = NewHTTPClient()
	return c
}

// NewHTTPClient is an HTTP client whose redirects keep the Authorization
// header only while they stay on the same host (a CDN never sees the token).
func NewHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 60 * time.Second
	return &http.Client{Transport: tr, CheckRedirect: checkRedirect}
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme {
		req.Header.Del("Authorization")
	}
	return nil
}

func (c *Client) logf(format string, args ...any) {
	if c.Log != nil {
		c.Log(format, args...)
	}
}

// Entry is one item of a repository's file listing.
type Entry struct {
	Type string `json:"type"` // "file" or "directory"
	Path string `json:"path"`
	Size int64  `json:"size"`
	OID  string `json:"oid"`
	LFS  *struct {
		OID  string `json:"oid"` // the SHA-256 of the file
		Size int64  `json:"size"`
	} `json:"lfs,omitempty"`
}

// SHA256 is the file's SHA-256 in hex from its LFS pointer; "" for a file not
// in LFS.
func (e Entry) SHA256() string {
	if e.LFS == nil {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(e.LFS.OID, "sha256:"))
}

// FileSize is the size of the file itself (the LFS object's for an LFS file).
func (e Entry) FileSize() int64 {
	if e.LFS != nil && e.LFS.Size > 0 {
		return e.LFS.Size
	}
	return e.Size
}

// HTTPError is a response the Hub gave instead of what was asked for.
type HTTPError struct {
	Status int
	URL    string // without query
	What   string // "repo or revision", "file", ...
	Token  bool   // a token was sent
}

func (e *HTTPError) Error() string {
	switch {
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		if e.Token {
			return fmt.Sprintf("HTTP %d from %s: access denied; the repository may be gated or private: "+
				"check that HF_TOKEN's account has accepted its terms and may read it", e.Status, e.URL)
		}
		return fmt.Sprintf("HTTP %d from %s: the repository may be gated or private: set HF_TOKEN to a token of an account with access", e.Status, e.URL)
	case e.Status == http.StatusNotFound:
		return fmt.Sprintf("HTTP 404 from %s: %s not found", e.URL, e.What)
	}
	return fmt.Sprintf("HTTP %d %s from %s", e.Status, http.StatusText(e.Status), e.URL)
}

// errUnreachable is a host that cannot be reached: no use trying again at once.
var errUnreachable = errors.New("cannot reach")

// retryable reports whether a try that failed with err may succeed later.
func retryable(err error) bool {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status >= 500 || he.Status == http.StatusTooManyRequests || he.Status == http.StatusRequestTimeout
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, errChecksum) {
		return false
	}
	if errors.Is(err, errUnreachable) {
		return false
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, errStalled) || errors.Is(err, errRangeRefused) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// describeNetErr makes a transport error say what happened in words.
func describeNetErr(err error, host string) error {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr), errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Errorf("%w %s: %w (no network? HF_ENDPOINT sets a mirror; HF_HUB_OFFLINE=1 uses only the local store)", errUnreachable, host, err)
	}
	return err
}

// retry runs try until it succeeds, fails for good, or the tries run out,
// waiting Backoff, 2*Backoff, ... between tries.
func (c *Client) retry(ctx context.Context, what string, try func() error) error {
	wait := c.Backoff
	for attempt := 0; ; attempt++ {
		err := try()
		if err == nil || !retryable(err) || attempt >= c.Retries || ctx.Err() != nil {
			if err != nil && ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		c.logf("%s: %v; trying again in %v (%d of %d)", what, err, wait, attempt+1, c.Retries)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (c *Client) newRequest(ctx context.Context, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "conveyor")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	return req, nil
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

var nextLink = regexp.MustCompile(`<([^>]+)>;\s*rel="next"`)

// List is the recursive file listing of a repository at a revision.
func (c *Client) List(ctx context.Context, repo, revision string) ([]Entry, error) {
	if c.Offline {
		return nil, errors.New("HF_HUB_OFFLINE is set: not listing " + repo)
	}
	if revision == "" {
		revision = "main"
	}
	u := fmt.Sprintf("%s/api/models/%s/tree/%s?recursive=true", c.Endpoint, escapePath(repo), url.PathEscape(revision))
	var all []Entry
	for u != "" {
		var page []Entry
		next := ""
		err := c.retry(ctx, "listing "+repo, func() error {
			req, err := c.newRequest(ctx, u)
			if err != nil {
				return err
			}
			resp, err := c.HTTP.Do(req)
			if err != nil {
				return describeNetErr(err, req.URL.Host)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
				return &HTTPError{Status: resp.StatusCode, URL: stripQuery(u), What: "repository " + repo + " or revision " + revision, Token: c.Token != ""}
			}
			page = nil
			if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&page); err != nil {
				return fmt.Errorf("listing %s: %w", repo, err)
			}
			next = ""
			if m := nextLink.FindStringSubmatch(resp.Header.Get("Link")); m != nil {
				next = m[1]
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		u = next
	}
	return all, nil
}

func stripQuery(u string) string {
	s, _, _ := strings.Cut(u, "?")
	return s
}
