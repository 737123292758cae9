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
	fs.IntVar(parallel, "np", 4, "same as --parallel")
	ctxLen := fs.Int("c", 0, "KV cache size in tokens, shared by the parallel sequences as llama-server does: each gets c/parallel (0: each gets the model's context, at most 4096)")
	fs.IntVar(ctxLen, "ctx-size", 0, "same as -c")
	queue := fs.Int("queue", 256, "requests that may wait for a free sequence (more get 503)")
	batch := fs.Int("b", 0, "most tokens in one forward pass (0: the backend's default, 256 on the CPU, 512 on a GPU)")
	fs.IntVar(batch, "batch-size", 0, "same as -b")
	chatTemplate := fs.String("chat-template", "", "chat template: a builtin `NAME` (chatml, ...) or a Jinja FILE (default: the model's)")
	threads := fs.Int("t", 0, "CPU threads (0: one per core)")
	fs.IntVar(threads, "threads", 0, "same as -t")
	backendName := fs.String("backend", "auto", "backend: auto, cpu, vulkan or cuda")
	device := fs.Int("device", -1, "device number of the backend (Vulkan, or CUDA where auto picks it), as `conveyor devices` lists them (-1: the best)")
	cacheType := fs.String("cache-type", "f16", "KV cache type of keys and values: f16, f32, q8_0 or q4_0 (-ctk and -ctv set them apart)")
	accel := runopts.RegisterAccel(fs)
	timeout := fs.Duration("timeout", 10*time.Minute, "longest wait for each write of an answer to a client that stops reading")
	readTimeout := fs.Duration("read-timeout", time.Minute, "longest time to read one request, body included")
	maxConns := fs.Int("max-conns", 1024, "connections open at once (more wait to be accepted)")
	allowedHosts := fs.String("allowed-hosts", "", "comma-separated host names the Host header may give (default: loopback names when --host is loopback, else any; '*': any)")
	var apiKeys, corsOrigins listFlag
	fs.Var(&apiKeys, "api-key", "require this `KEY` as 'Authorization: Bearer KEY' on every endpoint but /health (repeatable, or comma-separated)")
	apiKeyFile := fs.String("api-key-file", "", "read API keys from this `file`, one a line (blank lines and # comments skipped)")
	fs.Var(&corsOrigins, "cors-origin", "let web pages from this `origin` (https://host[:port], or '*' for any) call the API: CORS headers and preflights (repeatable, or comma-separated)")
	maxTokens := fs.Int("max-tokens", 0, "most tokens one request may generate: more is a 400, none given is this many (0: no cap but the context)")
	fs.IntVar(maxTokens, "n", 0, "same as --max-tokens (llama-server's -n)")
	fs.IntVar(maxTokens, "n-predict", 0, "same as --max-tokens")
	accessLog := fs.Bool("access-log", true, "log one line per request to stderr (method, path, status, tokens, time; never the prompt)")
	shutdownTimeout := fs.Duration("shutdown-timeout", 30*time.Second, "on SIGTERM, how long the requests in flight may take before their connections are closed")
	noShift := fs.Bool("no-context-shift", false, "refuse a chat longer than the context and end an answer at a full context, instead of dropping the oldest turns after the system prompt, and the oldest tokens after n_keep (llama.cpp's context shift)")
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
	if err := accel.Resolve(cacheType, backendName); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *maxTokens < 0 {
		return fmt.Errorf("%w: --max-tokens must not be negative", errUsage)
	}
	keys, err := readAPIKeys(apiKeys, *apiKeyFile)
	if err != nil {
		return err
	}
	seqCtx, err := sequenceContext(*ctxLen, *parallel)
	if err != nil {
		return err
	}
	if *timeout <= 0 || *readTimeout <= 0 || *shutdownTimeout < 0 || *maxConns <= 0 {
		return fmt.Errorf("%w: --timeout, --read-timeout and --max-conns must be positive, --shutdown-timeout not negative", errUsage)
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }

	sessOpts := engine.SessionOptions{Context: seqCtx, Sequences: *parallel, BatchSize: *batch, CacheType: *cacheType}
	accel.Session(&sessOpts)
	m, err := loadInterruptibly(p, engine.Options{Backend: *backendName, Device: *device, DeviceSet: *device >= 0,
		Threads: *threads, Progress: runopts.LoadProgress(stderr), Log: logf, GPULayers: accel.EngineLayers(),
		Session: sessOpts}, stderr)
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
	sched, err := m.NewScheduler(engine.SchedulerOptions{ContextShift: !*noShift, Parallel: *parallel, Context: seqCtx, BatchSize: *batch,
		Queue: *queue, CacheType: *cacheType, KeyCacheType: accel.CacheK, ValueCacheType: accel.CacheV})
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
	o := serve.Options{ModelID: id, ChatTemplate: template, WriteTimeout: *timeout, AllowedHosts: hosts,
		APIKeys: keys, CORSOrigins: corsOrigins, MaxTokens: *maxTokens,
		Log: func(f string, a ...any) { logf("conveyor serve: "+f, a...) }}
	if *accessLog {
		o.AccessLog = func(f string, a ...any) {
			logf("conveyor serve: "+time.Now().Format("2006-01-02T15:04:05.000Z07:00")+" "+f, a...)
		}
	}
	h := serve.New(m, sched, o)
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	ln = serve.LimitListener(ln, *maxConns)
	srv := serve.HTTPServer(h, serve.HTTPOptions{ReadTimeout: *readTimeout})
	logf("conveyor serve: model %s on %s (%s), %d sequences of %d tokens, queue %d",
		id, m.Backend().Name(), m.Backend().Device(), *parallel, sched.Context(), *queue)
	if len(keys) > 0 {
		logf("conveyor serve: %d API key(s) required on every endpoint but /health", len(keys))
	}
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

// sequenceContext is each parallel sequence's context for serve's -c: the
// total KV cache, shared as llama-server shares it (0: the engine's default
// for each sequence).
func sequenceContext(total, parallel int) (int, error) {
	if total <= 0 || parallel <= 0 {
		return 0, nil
	}
	if total/parallel < 1 {
		return 0, fmt.Errorf("%w: -c %d is the KV cache shared by --parallel %d sequences, less than one token each; raise -c or lower --parallel", errUsage, total, parallel)
	}
	return total / parallel, nil
}

// listFlag is a repeatable flag whose values may also be comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// readAPIKeys is the keys given with --api-key and those in --api-key-file.
func readAPIKeys(keys []string, file string) ([]string, error) {
	out := append([]string(nil), keys...)
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--api-key-file: %w", err)
		}
		n := len(out)
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				out = append(out, line)
			}
		}
		if len(out) == n {
			return nil, fmt.Errorf("%w: --api-key-file %s holds no key", errUsage, file)
		}
	}
	for _, k := range out {
		if strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("%w: an API key must not contain spaces", errUsage)
		}
	}
	return out, nil
}
