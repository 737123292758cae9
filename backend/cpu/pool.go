package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

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
// calling goroutine: n-1 workers. Nothing is allocated per loop. One loop
// runs at a time: a loop started while another runs (from another goroutine,
// or nested in a body) runs on its caller alone.
//
// Between loops a worker spins for a while on the loop counter before it
// parks on its channel: a decoded token is hundreds of short loops, and a
// parked goroutine is woken onto its waker's processor, where it may wait
// for the waker's own chunk to finish before it runs.
type pool struct {
	n       int
	mu      sync.Mutex
	start   []chan struct{}
	parked  []atomic.Bool
	stop    atomic.Bool
	stopped sync.Once

	// loop counts the loops started; a worker runs its chunk of each.
	loop atomic.Uint64
	// pending is the workers that have not yet finished the current loop
	// (their chunk, or nothing if the loop has fewer chunks): a worker
	// never lags a loop behind.
	pending atomic.Int64

	// The loop being run, set before loop is incremented.
	task   rangeTask
	total  int
	per    int
	chunks int

	// matmul is MatMul's task, kept here so that starting one allocates
	// nothing.
	matmul matmulTask
	packed packedTask
}

// spinFor is how long a worker waits for the next loop before parking.
const spinFor = 200 * time.Microsecond

func newPool(n int) *pool {
	p := &pool{n: n}
	p.start = make([]chan struct{}, n-1)
	p.parked = make([]atomic.Bool, n-1)
	for w := range p.start {
		p.start[w] = make(chan struct{}, 1)
		go p.worker(w + 1)
	}
	return p
}

// worker runs chunk c of each loop.
func (p *pool) worker(c int) {
	var seen uint64 // loops start after the pool is made
	for {
		next := p.wait(c, seen)
		if p.stop.Load() {
			return
		}
		seen = next
		if c < p.chunks {
			lo := c * p.per
			p.task.run(c, lo, min(lo+p.per, p.total))
		}
		p.pending.Add(-1)
	}
}

// wait returns once the loop counter has moved past seen (or the pool is
// stopping): spinning first, then parked until the next loop wakes it.
func (p *pool) wait(c int, seen uint64) uint64 {
	deadline := time.Now().Add(spinFor)
	for i := 0; ; i++ {
		if l := p.loop.Load(); l != seen || p.stop.Load() {
			return l
		}
		if i%64 == 63 {
			if time.Now().After(deadline) {
				break
			}
			runtime.Gosched()
		}
	}
	for {
		// Park unless a loop started meanwhile; whoever clears parked
		// (this worker or the loop's starter) decides who owns the wake-up.
		p.parked[c-1].Store(true)
		if l := p.loop.Load(); l != seen || p.stop.Load() {
			if p.parked[c-1].CompareAndSwap(true, false) {
				return l
			}
		}
		<-p.start[c-1]
		if l := p.loop.Load(); l != seen || p.stop.Load() {
			return l
		}
	}
}

// wake wakes the workers that parked.
func (p *pool) wake() {
	for w := range p.parked {
		if p.parked[w].CompareAndSwap(true, false) {
			p.start[w] <- struct{}{}
		}
	}
}

func (p *pool) size() int { return p.n }

func (p *pool) close() {
	p.stopped.Do(func() {
		p.stop.Store(true)
		p.wake()
	})
}

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
	p.task, p.total, p.per, p.chunks = t, n, per, chunks
	p.pending.Store(int64(p.n - 1))
	p.loop.Add(1)
	p.wake()
	t.run(0, 0, per)
	for i := 0; p.pending.Load() != 0; i++ {
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
	p.task = nil
}
