package cpu

import "sync"

// rangeTask is work over an index range, run in chunks by the pool. A task
// kept in a long-lived struct and passed as a pointer costs no allocation.
// worker tells chunks running at the same time apart (0..n), so that each
// can have its own scratch memory.
type rangeTask interface{ run(worker, lo, hi int) }

// funcTask adapts a function to rangeTask (a func value is pointer-shaped: no
// allocation beyond the closure itself).
type funcTask func(lo, hi int)

func (f funcTask) run(_, lo, hi int) { f(lo, hi) }

// pool is a fixed set of worker goroutines that run parallel loops with the
// calling goroutine: n-1 workers, each woken by its own channel. Nothing is
// allocated per loop. One loop runs at a time: a loop started while another
// runs (from another goroutine, or nested in a body) runs on its caller alone.
type pool struct {
	n       int
	mu      sync.Mutex
	start   []chan struct{}
	done    chan struct{}
	stop    chan struct{}
	stopped sync.Once

	// The loop being run, set before workers are woken.
	task  rangeTask
	total int
	per   int

	// matmul is MatMul's task, kept here so that starting one allocates
	// nothing.
	matmul matmulTask
}

func newPool(n int) *pool {
	p := &pool{n: n, done: make(chan struct{}, n), stop: make(chan struct{})}
	p.start = make([]chan struct{}, n-1)
	for w := range p.start {
		p.start[w] = make(chan struct{}, 1)
		go p.worker(w + 1)
	}
	return p
}

// worker runs chunk c of each loop it is woken for.
func (p *pool) worker(c int) {
	for {
		select {
		case <-p.start[c-1]:
		case <-p.stop:
			return
		}
		lo := c * p.per
		p.task.run(c, lo, min(lo+p.per, p.total))
		p.done <- struct{}{}
	}
}

func (p *pool) size() int { return p.n }

func (p *pool) close() { p.stopped.Do(func() { close(p.stop) }) }

// parallelFor splits [0, n) into contiguous chunks of at least grain items and
// runs body on each, on the workers and the calling goroutine. Results must not
// depend on how the range is split: each index is computed the same way whatever
// chunk it falls in.
func (p *pool) parallelFor(n, grain int, body func(lo, hi int)) {
	p.parallelRange(n, grain, funcTask(body))
}

// parallelRange is parallelFor for a rangeTask.
func (p *pool) parallelRange(n, grain int, t rangeTask) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	if !p.mu.TryLock() {
		t.run(p.n, 0, n)
		return
	}
	defer p.mu.Unlock()
	chunks := min(p.n, (n+grain-1)/grain)
	if chunks <= 1 {
		t.run(0, 0, n)
		return
	}
	per := (n + chunks - 1) / chunks
	chunks = (n + per - 1) / per
	p.task, p.total, p.per = t, n, per
	for c := 1; c < chunks; c++ {
		p.start[c-1] <- struct{}{}
	}
	t.run(0, 0, per)
	for c := 1; c < chunks; c++ {
		<-p.done
	}
	p.task = nil
}
