package serve

import (
	"bufio"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/engine"
)

// 1000 requests from 64 clients at once against 8 sequences: every one is
// answered once, well formed, with the same answer as the same request alone.
func TestLoadConcurrentEqualsAlone(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 8, Context: 256})
	prompts := []string{"Once upon a time", "Lily and Tom", "The cat", "One day, a little", "Tim was", "The sun",
		"Mom said", "A big dog", "The little bird", "Sam and Max", "In the park", "A girl named Sue"}
	type variant struct {
		path   string
		body   map[string]any
		stream bool
	}
	// Mostly legacy completions, whose prompts are short; chat prompts carry
	// chatml's markup, which this small vocabulary spells out letter by letter.
	var variants []variant
	for i, p := range prompts {
		n := 4 + i%5 // short answers: the point is the mixing, not the length
		variants = append(variants, variant{"/v1/completions", completionBody(p, map[string]any{"max_tokens": n}), i%2 == 0})
		if i%3 == 0 {
			variants = append(variants, variant{"/v1/chat/completions", chatBody(p, map[string]any{"max_tokens": n}), i%2 == 1})
		}
	}
	// Each alone first.
	alone := make([]string, len(variants))
	for i, v := range variants {
		alone[i] = s.complete(t, v.path, v.body).text()
	}

	const total, clients = 1000, 64
	var next, answered atomic.Int64
	failures := make(chan string, total)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				v := variants[i%len(variants)]
				got, err := s.answer(v.path, v.body, v.stream)
				switch {
				case err != nil:
					failures <- fmt.Sprintf("request %d (%s): %v", i, v.path, err)
				case got != alone[i%len(variants)]:
					failures <- fmt.Sprintf("request %d (%s %v): %q, alone %q", i, v.path, v.body["messages"], got, alone[i%len(variants)])
				}
				answered.Add(1)
			}
		}()
	}
	wg.Wait()
	close(failures)
	var msgs []string
	for f := range failures {
		msgs = append(msgs, f)
	}
	require.Empty(t, msgs, "%d of %d failed; first: %v", len(msgs), total, msgs[:min(len(msgs), 5)])
	require.Equal(t, int64(total), answered.Load())
	m := s.sched.Metrics()
	t.Logf("%d requests: %d prompt tokens (%d reused from the cache), %d generated", m.Completed, m.PromptTokens, m.ReusedTokens, m.GeneratedTokens)
	require.Equal(t, int64(total+len(variants)), m.Completed)
	require.Zero(t, m.Active)
	require.Zero(t, m.QueueDepth)
}

// answer makes one request without testing.T (it runs in many goroutines) and
// returns the answer's text, checking that it is well formed.
func (s *server) answer(path string, body map[string]any, stream bool) (string, error) {
	b := map[string]any{}
	for k, v := range body {
		b[k] = v
	}
	b["stream"] = stream
	raw, err := marshal(b)
	if err != nil {
		return "", err
	}
	client := s.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Post(s.URL+path, "application/json", strings.NewReader(string(raw)))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	if !stream {
		var c completion
		if err := decodeJSON(resp.Body, &c); err != nil {
			return "", err
		}
		if len(c.Choices) != 1 || c.Usage == nil || c.Choices[0].FinishReason == nil {
			return "", fmt.Errorf("malformed answer %+v", c)
		}
		return c.text(), nil
	}
	var text strings.Builder
	sc := bufio.NewScanner(resp.Body)
	done, finished := false, false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
		case line == "data: [DONE]":
			done = true
		case strings.HasPrefix(line, "data: ") && !done:
			var c completion
			if err := decodeJSON(strings.NewReader(line[len("data: "):]), &c); err != nil {
				return "", err
			}
			if len(c.Choices) != 1 {
				return "", fmt.Errorf("chunk with %d choices", len(c.Choices))
			}
			text.WriteString(streamedText([]completion{c}))
			if c.Choices[0].FinishReason != nil {
				finished = true
			}
		default:
			return "", fmt.Errorf("unexpected line %q", line)
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	if !done || !finished {
		return "", fmt.Errorf("stream without finish_reason or [DONE]")
	}
	return text.String(), nil
}

var (
	promLine    = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? (\S+)$`)
	promComment = regexp.MustCompile(`^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$`)
)

// /metrics is Prometheus' text format, with the scheduler's counters.
func TestMetricsFormat(t *testing.T) {
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 2, Context: 256})
	s.complete(t, "/v1/completions", completionBody("Once upon a time", map[string]any{"max_tokens": 5}))
	s.complete(t, "/v1/chat/completions", chatBody("Hi", map[string]any{"max_tokens": 3}))

	status, h, out := s.get(t, "/metrics")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "text/plain; version=0.0.4; charset=utf-8", h.Get("Content-Type"))
	require.True(t, strings.HasSuffix(string(out), "\n"))
	values := map[string]float64{}
	types := map[string]string{}
	helped := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if m := promComment.FindStringSubmatch(line); m != nil {
			if m[1] == "TYPE" {
				require.Contains(t, []string{"counter", "gauge", "histogram"}, m[3], line)
				types[m[2]] = m[3]
			} else {
				helped[m[2]] = true
			}
			continue
		}
		m := promLine.FindStringSubmatch(line)
		require.NotNil(t, m, "not a Prometheus sample line: %q", line)
		v, err := strconv.ParseFloat(m[4], 64)
		require.NoError(t, err, line)
		family := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m[1], "_bucket"), "_sum"), "_count")
		require.Contains(t, types, family, "a TYPE line comes before %q", line)
		require.True(t, helped[family], "a HELP line comes before %q", line)
		if types[family] == "counter" {
			require.True(t, strings.HasSuffix(m[1], "_total"), "counter %s ends in _total", m[1])
		}
		values[m[1]+m[2]] = v
	}
	require.Equal(t, 2.0, values["conveyor_requests_total"])
	require.Equal(t, 2.0, values["conveyor_requests_completed_total"])
	require.Equal(t, 8.0, values["conveyor_generated_tokens_total"])
	mt := s.sched.Metrics()
	require.Equal(t, float64(mt.PromptTokens), values["conveyor_prompt_tokens_total"])
	require.Equal(t, float64(mt.ReusedTokens), values["conveyor_prompt_tokens_reused_total"])
	require.Equal(t, 0.0, values["conveyor_queue_depth"])
	require.Equal(t, 0.0, values["conveyor_active_sequences"])
	require.Equal(t, "histogram", types["conveyor_time_to_first_token_seconds"])
	require.Equal(t, 2.0, values["conveyor_time_to_first_token_seconds_count"])
	require.Equal(t, 2.0, values[`conveyor_time_to_first_token_seconds_bucket{le="+Inf"}`])
	require.Greater(t, values["conveyor_time_to_first_token_seconds_sum"], 0.0)
	prev := 0.0
	for _, le := range mt.TTFT.Bounds {
		v, ok := values[`conveyor_time_to_first_token_seconds_bucket{le="`+formatFloat(le)+`"}`]
		require.True(t, ok, "bucket %g", le)
		require.GreaterOrEqual(t, v, prev, "buckets are cumulative")
		prev = v
	}
	require.False(t, math.IsNaN(prev))
}
