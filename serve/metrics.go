package serve

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/conveyor-llm/conveyor/engine"
)

// metrics writes the scheduler's counters in Prometheus' text format (0.0.4).
func (srv *Server) metrics(w http.ResponseWriter, r *http.Request) {
	var m engine.Metrics
	if srv.sched != nil {
		m = srv.sched.Metrics()
	}
	var b strings.Builder
	metric := func(name, typ, help string, v float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", name, help, name, typ, name, formatFloat(v))
	}
	metric("conveyor_requests_total", "counter", "Requests accepted into the queue.", float64(m.Requests))
	metric("conveyor_requests_completed_total", "counter", "Requests that finished (cancelled ones included).", float64(m.Completed))
	metric("conveyor_requests_rejected_total", "counter", "Requests refused with 503 because the queue was full.", float64(srv.rejected.Load()))
	metric("conveyor_requests_failed_total", "counter", "Requests that ended in a server error.", float64(srv.failed.Load()))
	metric("conveyor_prompt_tokens_total", "counter", "Prompt tokens of started requests, reused ones included.", float64(m.PromptTokens))
	metric("conveyor_prompt_tokens_reused_total", "counter", "Prompt tokens found in the KV cache and not computed again.", float64(m.ReusedTokens))
	metric("conveyor_generated_tokens_total", "counter", "Tokens generated.", float64(m.GeneratedTokens))
	metric("conveyor_context_shifts_total", "counter", "Full sequences shifted: old tokens dropped to go on generating.", float64(m.ContextShifts))
	metric("conveyor_queue_depth", "gauge", "Requests waiting for a free sequence.", float64(m.QueueDepth))
	metric("conveyor_active_sequences", "gauge", "Sequences generating now.", float64(m.Active))

	const ttft = "conveyor_time_to_first_token_seconds"
	fmt.Fprintf(&b, "# HELP %s Time from a request's arrival to its first generated token.\n# TYPE %s histogram\n", ttft, ttft)
	h := m.TTFT
	for i, le := range h.Bounds {
		fmt.Fprintf(&b, "%s_bucket{le=\"%s\"} %d\n", ttft, formatFloat(le), h.Counts[i])
	}
	fmt.Fprintf(&b, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %s\n%s_count %d\n", ttft, h.Count, ttft, formatFloat(h.Sum), ttft, h.Count)

	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = io.WriteString(w, b.String())
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
