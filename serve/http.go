package serve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/conveyor-llm/conveyor/engine"
)

// HTTPOptions are the limits of the HTTP server around a Server, so that slow
// or idle clients cannot hold it.
type HTTPOptions struct {
	// ReadHeaderTimeout bounds reading a request's headers (0: 10 s).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (0: 60 s).
	ReadTimeout time.Duration
	// IdleTimeout closes a kept-alive connection idle this long (0: 120 s).
	IdleTimeout time.Duration
	// MaxConns caps the connections open at once; more wait to be accepted
	// (0: 1024).
	MaxConns int
}

// HTTPServer is an http.Server for h with o's limits. It has no
// WriteTimeout, which would cut long streams: each write of an answer has its
// own deadline instead (Options.WriteTimeout).
func HTTPServer(h http.Handler, o HTTPOptions) *http.Server {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReadHeaderTimeout, 10*time.Second)
	def(&o.ReadTimeout, 60*time.Second)
	def(&o.IdleTimeout, 120*time.Second)
	return &http.Server{Handler: h, ReadHeaderTimeout: o.ReadHeaderTimeout, ReadTimeout: o.ReadTimeout,
		IdleTimeout: o.IdleTimeout, MaxHeaderBytes: 64 << 10}
}

// LimitListener accepts at most n connections open at once (0: 1024).
func LimitListener(l net.Listener, n int) net.Listener {
	if n <= 0 {
		n = 1024
	}
	return &limitListener{Listener: l, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// Shutdown stops hs and then sched: it stops accepting, lets the requests in
// flight finish until ctx is done, then closes the connections still open
// (cancelling their requests), and closes the scheduler. It returns by ctx's
// deadline, give or take one forward pass.
func Shutdown(ctx context.Context, hs *http.Server, sched *engine.Scheduler) error {
	err := hs.Shutdown(ctx)
	if err != nil {
		// The deadline passed: drop whoever is still connected (a stalled
		// upload, a slow stream); their requests' contexts end.
		_ = hs.Close()
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			err = nil
		}
	}
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if cerr := sched.Close(closeCtx); cerr != nil && err == nil {
		err = cerr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
