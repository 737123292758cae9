package cpu

import "sync"

// pool is a fixed set of worker goroutines that run parallel loops.
// No goroutine is started per op.
type pool struct {
	work      chan func()
	n         int
	closeOnce sync.Once
}

func newPool(n int) *pool {
	work := make(chan func())
	for i := 0; i < n; i++ {
		go func() {
			for f := range work {
				f()
			}
		}()
	}
	return &pool{work: work, n: n}
}

func (p *pool) size() int { return p.n }

func (p *pool) close() { p.closeOnce.Do(func() { close(p.work) }) }

// parallelFor splits [0, n) into contiguous chunks of at least grain items and
// runs body on each, on the workers and the calling goroutine. Results must not
// depend on how the range is split: each index is computed the same way whatever
// chunk it falls in.
func (p *pool) parallelFor(n, grain int, body func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	chunks := min(p.n, (n+grain-1)/grain)
	if chunks <= 1 {
		body(0, n)
		return
	}
	var wg sync.WaitGroup
	per := (n + chunks - 1) / chunks
	for lo := per; lo < n; lo += per {
		hi := min(lo+per, n)
		wg.Add(1)
		p.work <- func() {
			defer wg.Done()
			body(lo, hi)
		}
	}
	body(0, min(per, n))
	wg.Wait()
}
