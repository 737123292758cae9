package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/conveyor-llm/conveyor/engine"
	"github.com/conveyor-llm/conveyor/engine/runopts"
	"github.com/conveyor-llm/conveyor/model"
	"github.com/conveyor-llm/conveyor/serve"
)

// embedFlags are the flags embed and rerank share.
type embedFlags struct {
	path, backend   *string
	threads, device *int
	asJSON          *bool
}

func registerEmbedFlags(fs *flag.FlagSet) embedFlags {
	f := embedFlags{
		path:    fs.String("m", "", "embedding or reranking model `file` (GGUF)"),
		backend: fs.String("backend", "auto", "backend: auto, cpu, vulkan or cuda"),
		threads: fs.Int("t", 0, "CPU threads (0: one per core)"),
		device:  fs.Int("device", -1, "device number of the backend (Vulkan, or CUDA where auto picks it), as `conveyor devices` lists them (-1: the best)"),
		asJSON:  fs.Bool("json", false, "print one JSON value per line"),
	}
	fs.StringVar(f.path, "model", "", "model `file` (GGUF), same as -m")
	return f
}

func (f embedFlags) load(stderr io.Writer) (*engine.Model, error) {
	if *f.path == "" {
		return nil, fmt.Errorf("%w: no model: give one with -m FILE", errUsage)
	}
	if *f.threads < 0 {
		return nil, fmt.Errorf("%w: -t must not be negative", errUsage)
	}
	return engine.Load(*f.path, engine.Options{Backend: *f.backend, Device: *f.device, DeviceSet: *f.device >= 0,
		Threads: *f.threads, Progress: runopts.LoadProgress(stderr)})
}

// embedCmd prints the embedding of TEXT, or of each line of standard input.
func embedCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("embed", stderr)
	f := registerEmbedFlags(fs)
	raw := fs.Bool("raw", false, "print the pooled vectors as the model computes them (default: unit length, as llama-server)")
	truncate := fs.Bool("truncate", false, "cut inputs longer than the context instead of failing")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: give the text as one argument, or - to embed each line of standard input", errUsage)
	}
	texts := []string{fs.Arg(0)}
	if texts[0] == "-" {
		texts = nil
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			texts = append(texts, sc.Text())
		}
		if err := sc.Err(); err != nil {
			return err
		}
	}
	m, err := f.load(stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	inputs := make([][]int32, len(texts))
	for i, t := range texts {
		inputs[i] = m.EmbedTokenize(t)
	}
	vecs, err := m.EmbedTokens(context.Background(), inputs, engine.EmbedOptions{Raw: *raw, Truncate: *truncate})
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	for _, v := range vecs {
		if *f.asJSON {
			line, err := runopts.JSONLine(v)
			if err != nil {
				return err
			}
			w.Write(line)
		} else {
			for j, x := range v {
				if j > 0 {
					w.WriteByte(' ')
				}
				w.WriteString(strconv.FormatFloat(float64(x), 'g', -1, 32))
			}
		}
		w.WriteByte('\n')
	}
	return w.Flush()
}

// rerankCmd prints each document's relevance score to the query, best first.
func rerankCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rerank", stderr)
	f := registerEmbedFlags(fs)
	query := fs.String("query", "", "the query the documents are scored against")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: give the documents as arguments", errUsage)
	}
	docs := fs.Args()
	m, err := f.load(stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	scores, err := m.Rerank(context.Background(), *query, docs)
	if err != nil {
		return err
	}
	order := make([]int, len(docs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	for _, i := range order {
		if *f.asJSON {
			line, err := runopts.JSONLine(map[string]any{"index": i, "relevance_score": scores[i], "document": docs[i]})
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, string(line))
			continue
		}
		fmt.Fprintf(stdout, "%.6f\t%d\t%s\n", scores[i], i, docs[i])
	}
	return nil
}

// serveEmbeddings serves an embedding model: the embedding and rerank
// endpoints, no scheduler.
func serveEmbeddings(m *engine.Model, path, host string, port int, logf func(string, ...any)) error {
	id := serve.ModelID(path)
	h := serve.New(m, nil, serve.Options{ModelID: id, Log: func(f string, a ...any) { logf("conveyor serve: "+f, a...) }})
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	p, _ := m.Pooling()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	endpoints := "/v1/embeddings, /api/embed"
	if p == model.PoolRank {
		endpoints = "/v1/rerank"
	}
	logf("conveyor serve: embedding model %s (pooling %v, %d dimensions, context %d) on %s (%s): %s",
		id, p, m.Hyper().Dim, m.EmbedContext(), m.Backend().Name(), m.Backend().Device(), endpoints)
	logf("conveyor serve: listening on http://%s", ln.Addr())
	sig, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-sig.Done():
	}
	stop()
	if err := srv.Shutdown(context.Background()); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logf("conveyor serve: stopped")
	return nil
}
