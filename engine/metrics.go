package engine

import "sort"

// Metrics are a scheduler's counters since it started.
type Metrics struct {
	Requests        int64 // accepted into the queue
	Completed       int64
	PromptTokens    int64 // prompt tokens of placed requests, reused ones included
	ReusedTokens    int64 // prompt tokens found in the KV cache, not computed
	GeneratedTokens int64
	ContextShifts   int64 // full sequences shifted (SchedulerOptions.ContextShift)
	QueueDepth      int   // requests waiting for a sequence
	Active          int   // sequences generating
	TTFT            Histogram
}

// Histogram counts observations into cumulative buckets (Prometheus style).
type Histogram struct {
	Bounds []float64 // upper bounds, ascending
	Counts []int64   // observations <= Bounds[i]
	Count  int64
	Sum    float64
}

// ttftBounds are the time-to-first-token buckets, in seconds.
var ttftBounds = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

func (h *Histogram) observe(v float64) {
	if h.Bounds == nil {
		h.Bounds = ttftBounds
		h.Counts = make([]int64, len(ttftBounds))
	}
	for i := sort.SearchFloat64s(h.Bounds, v); i < len(h.Bounds); i++ {
		h.Counts[i]++
	}
	h.Count++
	h.Sum += v
}

// Metrics is a snapshot of the counters.
func (s *Scheduler) Metrics() Metrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.metrics
	m.TTFT.Counts = append([]int64(nil), m.TTFT.Counts...)
	if m.TTFT.Bounds == nil {
		m.TTFT.Bounds, m.TTFT.Counts = ttftBounds, make([]int64, len(ttftBounds))
	}
	m.QueueDepth = len(s.queue)
	m.Active = int(s.activeCount.Load())
	return m
}
