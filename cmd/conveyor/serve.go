package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/conveyor-llm/conveyor/chat"
	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/engine/runopts"
	"github.com/conveyor-llm/conveyor/serve"
)

func serveCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	path := fs.String("m", "", "model `file` (GGUF)")
	fs.StringVar(path, "model", "", "model `file` (GGUF), same as -m")
	hf := hfFlag(fs)
	host := fs.String("host", "127.0.0.1", "address to listen on (loopback unless told otherwise)")
	port := fs.Int("port", 8080, "port to listen on (0: any free one, printed at start)")
	parallel := fs.Int("parallel", 4, "sequences generated together")
	ctxLen := fs.Int("c", 0, "context of each parallel sequence, in tokens (0: the model's, at most 4096)")
	queue := fs.Int("queue", 256, "requests that may wait for a free sequence (more get 503)")
	batch := fs.Int("b", 0, "most tokens in one forward pass (0: the backend's default, 256 on the CPU, 512 on a GPU)")
	chatTemplate := fs.String("chat-template", "", "chat template: a builtin `NAME` (chatml, ...) or a Jinja FILE (default: the model's)")
	threads := fs.Int("t", 0, "CPU threads (0: one per core)")
	backendName := fs.String("backend", "auto", "backend: auto, cpu or vulkan")
	device := fs.Int("device", -1, "Vulkan device number, as `conveyor devices` lists them (-1: the best)")
	cacheType := fs.String("cache-type", "f16", "KV cache type: f16 or f32")
	timeout := fs.Duration("timeout", 10*time.Minute, "longest wait for each write of an answer to a client that stops reading")
	readTimeout := fs.Duration("read-timeout", time.Minute, "longest time to read one request, body included")
	maxConns := fs.Int("max-conns", 1024, "connections open at once (more wait to be accepted)")
	allowedHosts := fs.String("allowed-hosts", "", "comma-separated host names the Host header may give (default: loopback names when --host is loopback, else any; '*': any)")
	shutdownTimeout := fs.Duration("shutdown-timeout", 30*time.Second, "on SIGTERM, how long the requests in flight may take before their connections are closed")
	if err := parse(fs, args); err != nil {
		return err
	}
	p := ""
	var err error
	if *hf == "" {
		if p, err = modelArg(*path, fs); err != nil {
			return err
		}
	}
	if p, err = resolveModel(p, *hf, stderr); err != nil {
		return err
	}
	if *parallel <= 0 || *queue <= 0 || *batch < 0 || *ctxLen < 0 || *threads < 0 || *port < 0 || *port > 65535 {
		return fmt.Errorf("%w: --parallel and --queue must be positive; -b, -c, -t and --port not negative", errUsage)
	}
	if *timeout <= 0 || *readTimeout <= 0 || *shutdownTimeout < 0 || *maxConns <= 0 {
		return fmt.Errorf("%w: --timeout, --read-timeout and --max-conns must be positive, --shutdown-timeout not negative", errUsage)
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }

	m, err := loadInterruptibly(p, engine.Options{Backend: *backendName, Device: *device, DeviceSet: *device >= 0,
		Threads: *threads, Progress: runopts.LoadProgress(stderr), Log: logf}, stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	if m.IsEmbedding() {
		return serveEmbeddings(m, p, *host, *port, logf)
	}
	template, err := chat.Resolve(m.File(), *chatTemplate)
	if err != nil {
		if *chatTemplate != "" {
			return err
		}
		logf("conveyor serve: /v1/chat/completions is off: %v", err)
		template = ""
	}
	sched, err := m.NewScheduler(engine.SchedulerOptions{Parallel: *parallel, Context: *ctxLen, BatchSize: *batch,
		Queue: *queue, CacheType: *cacheType})
	if err != nil {
		return err
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	go sched.Run(runCtx)

	id := serve.ModelID(p)
	var hosts []string
	switch {
	case *allowedHosts == "*":
	case *allowedHosts != "":
		hosts = strings.Split(*allowedHosts, ",")
	case isLoopback(*host):
		hosts = serve.LoopbackHosts
	}
	h := serve.New(m, sched, serve.Options{ModelID: id, ChatTemplate: template, WriteTimeout: *timeout, AllowedHosts: hosts,
		Log: func(f string, a ...any) { logf("conveyor serve: "+f, a...) }})
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	ln = serve.LimitListener(ln, *maxConns)
	srv := serve.HTTPServer(h, serve.HTTPOptions{ReadTimeout: *readTimeout})
	logf("conveyor serve: model %s on %s (%s), %d sequences of %d tokens, queue %d",
		id, m.Backend().Name(), m.Backend().Device(), *parallel, sched.Context(), *queue)
	logf("conveyor serve: listening on http://%s", ln.Addr())

	sig, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-sig.Done():
	}
	// Drain: stop listening, let the requests in flight finish (for at most
	// --shutdown-timeout), then stop the scheduler. A second signal ends the
	// process at once.
	stopSignals()
	logf("conveyor serve: draining the requests in flight for at most %v (a second signal stops at once)", *shutdownTimeout)
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancelDrain()
	if err := serve.Shutdown(drainCtx, srv, sched); err != nil {
		return err
	}
	logf("conveyor serve: stopped")
	return nil
}

// isLoopback is whether host (a --host value) listens on loopback only.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
