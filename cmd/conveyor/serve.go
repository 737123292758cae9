package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
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
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := modelArg(*path, fs)
	if err != nil {
		return err
	}
	if *parallel <= 0 || *queue <= 0 || *batch < 0 || *ctxLen < 0 || *threads < 0 || *port < 0 || *port > 65535 {
		return fmt.Errorf("%w: --parallel and --queue must be positive; -b, -c, -t and --port not negative", errUsage)
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }

	m, err := engine.Load(p, engine.Options{Backend: *backendName, Device: *device, DeviceSet: *device >= 0,
		Threads: *threads, Progress: runopts.LoadProgress(stderr), Log: logf})
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
	h := serve.New(m, sched, serve.Options{ModelID: id, ChatTemplate: template,
		Log: func(f string, a ...any) { logf("conveyor serve: "+f, a...) }})
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
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
	// Drain: stop listening, let every request in flight finish, then stop the
	// scheduler. A second signal ends the process at once.
	stopSignals()
	logf("conveyor serve: draining the requests in flight (a second signal stops at once)")
	if err := srv.Shutdown(context.Background()); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if err := sched.Close(context.Background()); err != nil {
		return err
	}
	logf("conveyor serve: stopped")
	return nil
}
