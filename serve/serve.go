// Package serve is Conveyor's OpenAI-compatible HTTP API over a Scheduler:
// /v1/models, /v1/chat/completions and /v1/completions (streamed as
// server-sent events or not), /health and Prometheus /metrics.
//
//	s, _ := m.NewScheduler(engine.SchedulerOptions{Parallel: 8})
//	go s.Run(ctx)
//	tmpl, _ := chat.Resolve(m.File(), "")
//	http.ListenAndServe("127.0.0.1:8080", serve.New(m, s, serve.Options{ChatTemplate: tmpl}))
package serve

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/conveyor-llm/conveyor/engine"
)

// Options configure a Server.
type Options struct {
	// ModelID is the name /v1/models lists and requests may give as "model"
	// (empty: "model"); ModelID(path) derives it from the file name.
	ModelID string
	// ChatTemplate is the Jinja source /v1/chat/completions renders messages
	// with (see chat.Resolve); empty: chat requests are refused.
	ChatTemplate string
	// RetryAfter is what a 503 for a full queue tells the client to wait
	// (0: one second).
	RetryAfter time.Duration
	// MaxBodyBytes bounds a request body (0: 16 MiB).
	MaxBodyBytes int64
	// WriteTimeout bounds each write of an answer (a whole answer, or one
	// streamed event): a client that stops reading is dropped (0: 10 minutes).
	WriteTimeout time.Duration
	// AllowedHosts, when not empty, are the host names (without port) a
	// request's Host header may give; others get 403. A server on loopback
	// allows only loopback names, so that a web page cannot reach it through
	// DNS rebinding (LoopbackHosts).
	AllowedHosts []string
	// Log, when set, receives one line per failed request.
	Log func(format string, args ...any)
	// AccessLog, when set, receives one line per request: method, path,
	// status, prompt and generated tokens, duration (never the prompt).
	AccessLog func(format string, args ...any)
	// APIKeys, when not empty, are the keys a request must give as
	// "Authorization: Bearer KEY" (401 otherwise); /health and CORS
	// preflights need none.
	APIKeys []string
	// CORSOrigins are the origins whose web pages may call the API ("*":
	// any); empty, no CORS headers are sent and preflights are refused.
	CORSOrigins []string
	// MaxTokens, when positive, caps max_tokens: a request asking for more
	// gets 400, and one asking for none generates at most this many.
	MaxTokens int
}

// Server answers the API. It is an http.Handler.
type Server struct {
	m       *engine.Model
	sched   *engine.Scheduler
	opts    Options
	mux     *http.ServeMux
	created int64
	keys    [][32]byte // SHA-256 of each API key
	// maxTokenBytes is the longest text one token stands for: a prompt of
	// more than context × maxTokenBytes bytes cannot fit, and is refused
	// before it is tokenized.
	maxTokenBytes int

	rejected atomic.Int64 // requests refused because the queue was full
	failed   atomic.Int64 // requests that ended in a server-side error
}

// ModelID is the id of the model in the GGUF file at path: its base name
// without the .gguf extension.
func ModelID(path string) string {
	base := filepath.Base(path)
	if ext := filepath.Ext(base); strings.EqualFold(ext, ".gguf") {
		base = base[:len(base)-len(ext)]
	}
	return base
}

// New serves m through s, which the caller runs (go s.Run(ctx)) and closes;
// s is nil for an embedding model, which serves only the embedding endpoints.
func New(m *engine.Model, s *engine.Scheduler, o Options) *Server {
	if o.ModelID == "" {
		o.ModelID = "model"
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 16 << 20
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Minute
	}
	srv := &Server{m: m, sched: s, opts: o, mux: http.NewServeMux(), created: time.Now().Unix()}
	for _, k := range o.APIKeys {
		srv.keys = append(srv.keys, sha256.Sum256([]byte(k)))
	}
	srv.maxTokenBytes = 4 // an unknown character: one token for up to 4 bytes
	for _, tok := range m.Tokenizer().Vocab().Tokens {
		srv.maxTokenBytes = max(srv.maxTokenBytes, len(tok))
	}
	srv.mux.HandleFunc("GET /health", srv.health)
	srv.mux.HandleFunc("GET /metrics", srv.metrics)
	srv.mux.HandleFunc("GET /v1/models", srv.models)
	srv.mux.HandleFunc("GET /v1/models/{id...}", srv.model)
	if s != nil {
		srv.mux.HandleFunc("POST /v1/chat/completions", srv.chatCompletions)
		srv.mux.HandleFunc("POST /v1/completions", srv.completions)
		srv.mux.HandleFunc("POST /v1/messages", srv.messages) // anthropic.go
	} else { // an embedding model: no scheduler (see embed.go)
		srv.mux.HandleFunc("POST /v1/chat/completions", srv.notGenerative)
		srv.mux.HandleFunc("POST /v1/completions", srv.notGenerative)
	}
	if m.IsEmbedding() {
		srv.registerEmbed()
	}
	return srv
}

// LoopbackHosts are the Host names of a server listening on loopback.
var LoopbackHosts = []string{"localhost", "127.0.0.1", "::1"}

// hostAllowed is whether r's Host header names this server.
func (srv *Server) hostAllowed(r *http.Request) bool {
	if len(srv.opts.AllowedHosts) == 0 {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	for _, a := range srv.opts.AllowedHosts {
		if strings.EqualFold(host, a) {
			return true
		}
	}
	return false
}

// ServeHTTP routes a request; unknown paths and methods get OpenAI-style errors.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if srv.opts.AccessLog != nil {
		start := time.Now()
		info := &requestInfo{}
		lw := &loggedWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		defer func() {
			status := lw.status
			if status == 0 {
				status = http.StatusOK
				if r.Context().Err() != nil && !lw.wrote {
					status = 499 // the client went away before an answer, as nginx logs it
				}
			}
			srv.opts.AccessLog("%s %s %d prompt_tokens=%d completion_tokens=%d %.3fs",
				r.Method, strconv.Quote(r.URL.Path), status, info.prompt, info.completion, time.Since(start).Seconds())
		}()
		w = lw
	}
	if !srv.hostAllowed(r) {
		writeError(w, http.StatusForbidden, "invalid_request_error", "", "host_not_allowed",
			"the Host header "+strconv.Quote(r.Host)+" does not name this server")
		return
	}
	if srv.cors(w, r) {
		return
	}
	if !srv.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="conveyor"`)
		if r.URL.Path == "/v1/messages" {
			writeAnthropicError(w, http.StatusUnauthorized, "a valid API key is required: send it as 'x-api-key: KEY' or 'Authorization: Bearer KEY'")
			return
		}
		writeError(w, http.StatusUnauthorized, "invalid_request_error", "", "invalid_api_key",
			"a valid API key is required: send it as 'Authorization: Bearer KEY'")
		return
	}
	if h, pattern := srv.mux.Handler(r); pattern == "" {
		// The mux answers 404 and 405 in plain text; find which it would be.
		rec := &statusOnly{}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "", "method_not_allowed",
				r.Method+" is not allowed on "+r.URL.Path)
			return
		}
		writeError(w, http.StatusNotFound, "invalid_request_error", "", "not_found", "no such endpoint: "+r.URL.Path)
		return
	}
	// The handlers set write deadlines (Options.WriteTimeout); the next
	// request on this connection starts without one.
	defer func() { _ = http.NewResponseController(w).SetWriteDeadline(time.Time{}) }()
	srv.mux.ServeHTTP(w, r)
}

// authorized is whether r may go on: no keys are configured, it asks for
// /health, or it gives one of the keys. Keys are compared through their
// SHA-256 in constant time, so that neither their contents nor their lengths
// leak through timing.
func (srv *Server) authorized(r *http.Request) bool {
	if len(srv.keys) == 0 || (r.Method == http.MethodGet && r.URL.Path == "/health") {
		return true
	}
	auth := r.Header.Get("Authorization")
	const prefix = "bearer "
	var key string
	switch {
	case len(auth) >= len(prefix) && strings.EqualFold(auth[:len(prefix)], prefix):
		key = strings.TrimSpace(auth[len(prefix):])
	case auth == "" && r.Header.Get("X-Api-Key") != "": // Anthropic's header
		key = strings.TrimSpace(r.Header.Get("X-Api-Key"))
	default:
		return false
	}
	got := sha256.Sum256([]byte(key))
	ok := 0
	for _, k := range srv.keys {
		ok |= subtle.ConstantTimeCompare(got[:], k[:])
	}
	return ok == 1
}

// cors adds the CORS headers for an allowed Origin and answers a preflight
// (OPTIONS with Access-Control-Request-Method); it reports whether it
// answered the request.
func (srv *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	allowed := false
	if origin != "" {
		for _, o := range srv.opts.CORSOrigins {
			if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
				allowed = true
				break
			}
		}
	}
	if len(srv.opts.CORSOrigins) > 0 {
		w.Header().Add("Vary", "Origin")
	}
	if allowed {
		w.Header().Set("Access-Control-Allow-Origin", origin)
	}
	if !preflight {
		return false
	}
	if !allowed {
		writeError(w, http.StatusForbidden, "invalid_request_error", "", "cors_origin_not_allowed",
			"cross-origin requests from "+strconv.Quote(origin)+" are not allowed (see --cors-origin)")
		return true
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Api-Key, Anthropic-Version, Anthropic-Beta")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

// requestInfo is what a handler tells the access log about its request.
type requestInfo struct{ prompt, completion int }

type requestInfoKey struct{}

// noteTokens records a request's token counts for the access log.
func noteTokens(r *http.Request, prompt, completion int) {
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		info.prompt, info.completion = prompt, completion
	}
}

// loggedWriter records the status of an answer for the access log.
type loggedWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (lw *loggedWriter) WriteHeader(status int) {
	if lw.status == 0 {
		lw.status = status
	}
	lw.ResponseWriter.WriteHeader(status)
}

func (lw *loggedWriter) Write(b []byte) (int, error) {
	if lw.status == 0 {
		lw.status = http.StatusOK
	}
	lw.wrote = true
	return lw.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (deadlines, Flush).
func (lw *loggedWriter) Unwrap() http.ResponseWriter { return lw.ResponseWriter }

// statusOnly records the status and headers the mux's fallback handler sets.
type statusOnly struct {
	header http.Header
	status int
}

func (s *statusOnly) Header() http.Header {
	if s.header == nil {
		s.header = http.Header{}
	}
	return s.header
}
func (s *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusOnly) WriteHeader(status int)      { s.status = status }

func (srv *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (srv *Server) modelObject() modelObject {
	return modelObject{ID: srv.opts.ModelID, Object: "model", Created: srv.created, OwnedBy: "conveyor"}
}

func (srv *Server) models(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []modelObject{srv.modelObject()}})
}

func (srv *Server) model(w http.ResponseWriter, r *http.Request) {
	if id := r.PathValue("id"); id != srv.opts.ModelID {
		writeModelNotFound(w, id)
		return
	}
	writeJSON(w, http.StatusOK, srv.modelObject())
}

// apiError is an error as OpenAI's API returns it.
type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func writeError(w http.ResponseWriter, status int, typ, param, code, message string) {
	e := apiError{Message: message, Type: typ}
	if param != "" {
		e.Param = &param
	}
	if code != "" {
		e.Code = &code
	}
	writeJSON(w, status, map[string]apiError{"error": e})
}

func writeModelNotFound(w http.ResponseWriter, id string) {
	writeError(w, http.StatusNotFound, "invalid_request_error", "model", "model_not_found",
		"The model `"+id+"` does not exist; GET /v1/models lists the one this server has")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// marshal is json.Marshal without HTML escaping, so text such as "<s>" reads as it is.
func marshal(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(b.String(), "\n")), nil
}

func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func (srv *Server) logf(format string, args ...any) {
	if srv.opts.Log != nil {
		srv.opts.Log(format, args...)
	}
}
