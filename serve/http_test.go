package serve

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/engine"
)

// listen serves h with o's limits on a loopback port, like `conveyor serve`.
func listen(t *testing.T, h http.Handler, o HTTPOptions) (*http.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln = LimitListener(ln, o.MaxConns)
	hs := HTTPServer(h, o)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return hs, ln.Addr().String()
}

// stalledUpload sends headers announcing a body, a few bytes of it, then stops.
func stalledUpload(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = fmt.Fprintf(c, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"prompt\":")
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestHTTPServerLimits(t *testing.T) {
	hs := HTTPServer(http.NotFoundHandler(), HTTPOptions{})
	require.Equal(t, time.Minute, hs.ReadTimeout)
	require.Equal(t, 10*time.Second, hs.ReadHeaderTimeout)
	require.Equal(t, 120*time.Second, hs.IdleTimeout)
	require.Zero(t, hs.WriteTimeout, "streams are bounded per write instead")
}

func TestSlowBodyIsCutOff(t *testing.T) {
	m := loadStories(t)
	sched, err := m.NewScheduler(engine.SchedulerOptions{Parallel: 1, Context: 64})
	require.NoError(t, err)
	go sched.Run(context.Background())
	t.Cleanup(func() { _ = sched.Close(context.Background()) })
	_, addr := listen(t, New(m, sched, Options{}), HTTPOptions{ReadTimeout: 300 * time.Millisecond})
	c := stalledUpload(t, addr)
	start := time.Now()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, _ = io.Copy(io.Discard, c) // until the server gives up and closes
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestShutdownHasADeadline(t *testing.T) {
	m := loadStories(t)
	sched, err := m.NewScheduler(engine.SchedulerOptions{Parallel: 1, Context: 64})
	require.NoError(t, err)
	go sched.Run(context.Background())
	hs, addr := listen(t, New(m, sched, Options{}), HTTPOptions{})
	stalledUpload(t, addr)
	time.Sleep(100 * time.Millisecond) // the upload is being read
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	require.NoError(t, Shutdown(ctx, hs, sched))
	require.Less(t, time.Since(start), 5*time.Second)
	// The scheduler is closed too.
	_, err = sched.Submit(context.Background(), engine.Request{Prompt: "a", MaxTokens: 1}, nil)
	require.ErrorIs(t, err, engine.ErrClosed)
}

func TestLimitListener(t *testing.T) {
	_, addr := listen(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }),
		HTTPOptions{MaxConns: 1})
	first, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer first.Close()
	_, err = fmt.Fprintf(first, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(first), nil)
	require.NoError(t, err)
	resp.Body.Close()

	// A second connection waits while the first is open (kept alive) ...
	second, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer second.Close()
	_, err = fmt.Fprintf(second, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	require.NoError(t, second.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
	_, err = second.Read(make([]byte, 1))
	require.Error(t, err, "not served while the first connection is open")
	// ... and is served once it closes.
	first.Close()
	require.NoError(t, second.SetReadDeadline(time.Now().Add(5*time.Second)))
	resp, err = http.ReadResponse(bufio.NewReader(second), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
}

// A server on loopback answers only Host names of loopback: a web page that
// rebinds its own name to 127.0.0.1 gets 403.
func TestHostChecked(t *testing.T) {
	m := loadStories(t)
	s := startServerWith(t, m, engine.SchedulerOptions{Parallel: 1, Context: 64}, Options{ModelID: modelID, AllowedHosts: LoopbackHosts})
	for host, want := range map[string]int{
		"":                      http.StatusOK, // the URL's: 127.0.0.1:port
		"localhost:8080":        http.StatusOK,
		"LOCALHOST":             http.StatusOK,
		"[::1]:8080":            http.StatusOK,
		"evil.example:8080":     http.StatusForbidden,
		"evil.example":          http.StatusForbidden,
		"127.0.0.1.evil.com:80": http.StatusForbidden,
	} {
		req, err := http.NewRequest("GET", s.URL+"/v1/models", nil)
		require.NoError(t, err)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, want, resp.StatusCode, "Host %q", host)
	}
}
