package serve

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/conveyor-llm/conveyor/engine"
)

// The load test of issue 18 (skipped with -short): 2000 requests (or
// CONVEYOR_LOAD_REQUESTS) from 128 clients at once, streaming and not, chat
// and legacy completions, some long enough to shift their context, with one
// streaming client in ten hanging up after its first chunk. None is lost,
// none gets another's answer, every answer equals the same request alone
// (greedy), and afterwards the sequences, the queue, the goroutines, the heap
// and the process's resident memory are back where they started. (About 15
// s of CPU on 2 cores.)
func TestLoadWithDisconnects(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test: skipped with -short")
	}
	s := startServer(t, nil, engine.SchedulerOptions{Parallel: 8, Context: 128, Queue: 256, ContextShift: true})
	transport := &http.Transport{MaxIdleConnsPerHost: 128}
	s.client = &http.Client{Transport: transport}
	prompts := []string{"Once upon a time", "Lily and Tom", "The cat", "One day, a little", "Tim was", "The sun",
		"Mom said", "A big dog", "The little bird", "Sam and Max", "In the park", "A girl named Sue"}
	type variant struct {
		path string
		body map[string]any
	}
	var variants []variant
	for i, p := range prompts {
		n := 2 + i%4
		variants = append(variants, variant{"/v1/completions", completionBody(p, map[string]any{"max_tokens": n})})
		if i%3 == 0 {
			variants = append(variants, variant{"/v1/chat/completions", chatBody(p, map[string]any{"max_tokens": n})})
		}
	}
	// A long prompt whose answer runs past the end of the context: shifted.
	// It costs as much as a hundred others: one request in 100.
	variants = append(variants, variant{"/v1/completions", completionBody(strings.Repeat("Once upon a time there was a cat. ", 12),
		map[string]any{"max_tokens": 24, "ignore_eos": true})})
	alone := make([]string, len(variants))
	for i, v := range variants {
		alone[i] = s.complete(t, v.path, v.body).text()
	}
	shifts0 := s.sched.Metrics().ContextShifts
	require.Positive(t, shifts0)
	transport.CloseIdleConnections()
	debug.FreeOSMemory()
	var heap0 runtime.MemStats
	runtime.ReadMemStats(&heap0)
	rss0 := residentBytes(t)
	goroutines0 := runtime.NumGoroutine()

	total, clients := 2000, 128
	if n, err := strconv.Atoi(os.Getenv("CONVEYOR_LOAD_REQUESTS")); err == nil && n > 0 {
		total = n
	}
	var next, answered, hungUp atomic.Int64
	failures := make(chan string, total)
	start := time.Now()
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
				k := i % (len(variants) - 1)
				if i%100 == 99 {
					k = len(variants) - 1
				}
				v := variants[k]
				stream := (i/len(variants))%2 == 1
				if stream && i%10 == 3 {
					if err := s.hangUp(v.path, v.body); err != nil {
						failures <- fmt.Sprintf("request %d (%s, hanging up): %v", i, v.path, err)
					}
					hungUp.Add(1)
					continue
				}
				got, err := s.answer(v.path, v.body, stream)
				switch {
				case err != nil:
					failures <- fmt.Sprintf("request %d (%s stream=%v): %v", i, v.path, stream, err)
				case got != alone[k]:
					failures <- fmt.Sprintf("request %d (%s stream=%v): %q, alone %q", i, v.path, stream, got, alone[k])
				default:
					answered.Add(1)
				}
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
	require.Equal(t, int64(total), answered.Load()+hungUp.Load())
	t.Logf("%d requests from %d clients in %v: %d answered, %d hung up mid-stream", total, clients, time.Since(start), answered.Load(), hungUp.Load())

	// Everything is let go: the sequences, the queue, the connections'
	// goroutines and the memory.
	transport.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := s.sched.Metrics()
		g := runtime.NumGoroutine()
		if (m.Active == 0 && m.QueueDepth == 0 && g <= goroutines0+2) || time.Now().After(deadline) {
			require.Zero(t, m.Active)
			require.Zero(t, m.QueueDepth)
			require.LessOrEqual(t, g, goroutines0+2, "goroutines: %d before, %d after", goroutines0, g)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Greater(t, s.sched.Metrics().ContextShifts, shifts0, "no request shifted its context under load")
	debug.FreeOSMemory()
	var heap1 runtime.MemStats
	runtime.ReadMemStats(&heap1)
	rss1 := residentBytes(t)
	t.Logf("heap in use: %d MiB before, %d MiB after; resident: %d MiB before, %d MiB after", heap0.HeapInuse>>20, heap1.HeapInuse>>20, rss0>>20, rss1>>20)
	require.Less(t, heap1.HeapInuse, heap0.HeapInuse+32<<20, "the heap grew by more than 32 MiB")
	require.Less(t, rss1, rss0+64<<20, "the resident memory grew by more than 64 MiB")

	// The server still answers as before.
	require.Equal(t, alone[0], s.complete(t, variants[0].path, variants[0].body).text())
}

// residentBytes is the process's resident memory (VmRSS), or 0 where
// /proc/self/status does not say.
func residentBytes(t *testing.T) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err, line)
			return kb << 10
		}
	}
	return 0
}

// hangUp starts a streamed request and disconnects after its first chunk.
func (s *server) hangUp(path string, body map[string]any) error {
	b := map[string]any{"stream": true}
	for k, v := range body {
		b[k] = v
	}
	raw, err := marshal(b)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+path, strings.NewReader(string(raw)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") {
			cancel()
			return nil
		}
	}
	return fmt.Errorf("no chunk before the end: %v", sc.Err())
}
