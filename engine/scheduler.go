package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/conveyor-llm/conveyor/model"
)

// MaxQueue is the most requests a Scheduler's queue holds.
const MaxQueue = 1 << 20

// SchedulerOptions size a Scheduler.
type SchedulerOptions struct {
	// ContextShift lets a sequence go on when its context is full, as
	// SessionOptions.ContextShift does: the first Request.Keep tokens of
	// the prompt stay (and a BOS token), half of the rest, the oldest, is
	// dropped, and what remains after the kept tokens is recomputed at its
	// new positions. Without it generation ends with StopReason "context".
	ContextShift bool

	Parallel  int    // sequences decoded together (0: 4)
	Context   int    // KV cache positions per sequence (0: the model's, at most 4096)
	BatchSize int    // most tokens in one forward pass (0: the model's DefaultBatchSize)
	Queue     int    // requests that may wait for a free sequence (0: 256)
	CacheType string // "f16" (default), "f32", "q8_0" or "q4_0"
	// KeyCacheType and ValueCacheType, where set, are the keys' and the
	// values' types apart (SessionOptions.KeyCacheType).
	KeyCacheType, ValueCacheType string
}

// ErrQueueFull is returned by Submit when the queue is full; ErrClosed once
// the scheduler is draining or closed; ErrNotRunning once Run has returned
// without Close (its context was cancelled).
var (
	ErrQueueFull  = errors.New("engine: queue full")
	ErrClosed     = errors.New("engine: scheduler closed")
	ErrNotRunning = errors.New("engine: the scheduler is not running (Run has returned)")
)

// Scheduler runs many generations at once with continuous batching: up to
// Parallel sequences share each forward pass, new requests join between steps
// and finished ones leave. Each sequence keeps the tokens of its last request
// in the KV cache, and a new request goes to the free sequence that shares the
// longest prefix with its prompt (the same chat history, the same system
// prompt), so only the rest is computed. Batch invariance makes a request's
// answer the same whether it ran alone or beside others.
type Scheduler struct {
	m     *Model
	sess  *Session
	opts  SchedulerOptions
	slots []*slot
	queue chan *job
	stop  chan struct{} // closed by Close: drain, then return from Run
	done  chan struct{} // closed when Run returns

	mu          sync.Mutex
	closed      bool
	started     bool // Run was called
	stopped     bool // Run has returned or is returning: nothing more is queued
	metrics     Metrics
	activeCount atomic.Int64 // for Metrics, read from other goroutines
}

// slot is one sequence of the KV cache: its tokens and its job. While a job
// runs, the history's first job.next tokens are in the cache and the rest
// wait for the next forward pass (a chunk of prompt, or the last chosen token).
type slot struct {
	history []int32
	job     *job
	used    time.Time
}

// job is one request on its way through the scheduler. The scheduler never
// calls the caller's code: tokens go through events, emitted by Submit's caller.
type job struct {
	ctx    context.Context
	req    Request
	prompt []int32
	seq    *sequence
	next   int  // tokens of the slot's history already in the cache
	keep   int  // tokens at the start of the history a context shift keeps
	begun  bool // the prompt is computed (the logits after it were seen)
	events *eventQueue
	err    error
	queued time.Time
}

// NewScheduler allocates the KV cache for Parallel sequences. Call Run in a
// goroutine of its own.
func (m *Model) NewScheduler(o SchedulerOptions) (*Scheduler, error) {
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.Queue <= 0 {
		o.Queue = 256
	}
	if o.Queue > MaxQueue {
		return nil, fmt.Errorf("engine: a queue of %d requests is over the limit of %d", o.Queue, MaxQueue)
	}
	if o.BatchSize <= 0 {
		o.BatchSize = m.DefaultBatchSize()
	}
	sess, err := m.NewSession(SessionOptions{Context: o.Context, Sequences: o.Parallel, BatchSize: o.BatchSize, CacheType: o.CacheType,
		KeyCacheType: o.KeyCacheType, ValueCacheType: o.ValueCacheType})
	if err != nil {
		return nil, err
	}
	o.Context = sess.Context()
	s := &Scheduler{m: m, sess: sess, opts: o, queue: make(chan *job, o.Queue),
		stop: make(chan struct{}), done: make(chan struct{})}
	for range o.Parallel {
		s.slots = append(s.slots, &slot{})
	}
	return s, nil
}

// Context is the number of positions each sequence holds.
func (s *Scheduler) Context() int { return s.opts.Context }

// ContextShift reports whether a full sequence is shifted rather than ended
// (SchedulerOptions.ContextShift).
func (s *Scheduler) ContextShift() bool { return s.opts.ContextShift }

// Submit runs req and returns its result, calling emit (from the caller's
// goroutine; nil: no callback) for each token. It returns ErrQueueFull at
// once when the queue is full, ErrClosed after Close and ErrNotRunning after
// Run has returned. Cancelling ctx returns ctx's error at once, whether the
// request waits in the queue (Run not started yet, or busy) or runs; the
// sequence is freed at the next step. An error from emit also frees it.
func (s *Scheduler) Submit(ctx context.Context, req Request, emit func(Token) error) (*Result, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if emit == nil {
		emit = func(Token) error { return nil }
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prompt, err := s.m.promptIDs(req, s.opts.Context)
	if err != nil {
		return nil, err
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	j := &job{ctx: ctx, req: req, prompt: prompt, events: newEventQueue(), queued: time.Now()}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if s.stopped {
		s.mu.Unlock()
		return nil, ErrNotRunning
	}
	select {
	case s.queue <- j:
		s.metrics.Requests++
	default:
		s.mu.Unlock()
		return nil, ErrQueueFull
	}
	s.mu.Unlock()

	var emitErr error
	for {
		tokens, final, ok := j.events.wait(parent.Done(), s.done)
		if !ok {
			if err := parent.Err(); err != nil {
				return nil, err
			}
			// Run has returned; it closes every job it knew of before
			// closing done, so look once more before giving up.
			if tokens, final, _ = j.events.wait(nil, closedChan); !final {
				return nil, ErrNotRunning
			}
		}
		for _, t := range tokens {
			if emitErr == nil {
				if emitErr = emit(t); emitErr != nil {
					cancel()
				}
			}
		}
		if final {
			break
		}
	}
	if emitErr != nil {
		return j.seq.res, emitErr
	}
	if j.seq == nil {
		return nil, j.err
	}
	return j.seq.res, j.err
}

// closedChan is a closed channel: waiting on it never blocks.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Close stops taking requests, lets the queued and running ones finish, and
// returns when Run has returned (or ctx is done). If Run never started, the
// queued requests fail with ErrClosed. Close may be called more than once.
func (s *Scheduler) Close(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stop)
	}
	neverRan := !s.started
	if neverRan {
		s.started, s.stopped = true, true
	}
	s.mu.Unlock()
	if neverRan {
		s.failQueued(ErrClosed)
		close(s.done)
	}
	select {
	case <-s.done:
		s.sess.Close()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run is the scheduling loop; it returns when ctx is done or, after Close,
// when every request has finished. Run runs once: a second call, or a call
// after Close, returns at once.
func (s *Scheduler) Run(ctx context.Context) {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return
	}
	s.started = true
	s.mu.Unlock()
	defer func() {
		// Refuse new requests, then fail those that came in meanwhile.
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		err := ctx.Err()
		if err == nil {
			err = ErrClosed
		}
		s.failQueued(err)
		close(s.done)
	}()
	for {
		s.admit()
		if s.active() == 0 {
			select {
			case j := <-s.queue:
				s.place(j)
			case <-s.stop:
				if len(s.queue) == 0 {
					return
				}
			case <-ctx.Done():
				s.failAll(ctx.Err())
				return
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			s.failAll(err)
			return
		}
		s.step()
	}
}

// admit moves queued requests into free sequences.
func (s *Scheduler) admit() {
	for s.free() != nil {
		select {
		case j := <-s.queue:
			s.place(j)
		default:
			return
		}
	}
}

// place gives j the free sequence sharing the longest prefix with its prompt
// (the least recently used among equals).
func (s *Scheduler) place(j *job) {
	var best *slot
	bestReuse := -1
	for _, sl := range s.slots {
		if sl.job != nil {
			continue
		}
		r := reusable(sl.history, j.prompt)
		if s.m.recurrent() { // see recurrent.go: a slot's state is not kept
			r = 0
		}
		if r > bestReuse || (r == bestReuse && sl.used.Before(best.used)) {
			best, bestReuse = sl, r
		}
	}
	j.seq = s.m.newSequence(j.req, j.prompt, s.opts.Context, j.events.push)
	j.seq.start = j.queued
	j.keep = s.m.shiftKeep(j.prompt, j.req.Keep)
	j.seq.canShift = s.opts.ContextShift && canShift(s.opts.Context, j.keep)
	j.seq.res.Stats.ReusedTokens = bestReuse
	j.next = bestReuse
	best.history = append(best.history[:bestReuse], j.prompt[bestReuse:]...)
	best.job, best.used = j, time.Now()
	s.activeCount.Add(1)
	s.mu.Lock()
	s.metrics.PromptTokens += int64(len(j.prompt))
	s.metrics.ReusedTokens += int64(bestReuse)
	s.mu.Unlock()
}

func (s *Scheduler) free() *slot {
	for _, sl := range s.slots {
		if sl.job == nil {
			return sl
		}
	}
	return nil
}

func (s *Scheduler) active() int {
	n := 0
	for _, sl := range s.slots {
		if sl.job != nil {
			n++
		}
	}
	return n
}

// step runs one forward pass over every active sequence: a chunk of prompt
// for those still prefilling (or recomputing after a context shift), the
// last chosen token for those decoding.
func (s *Scheduler) step() {
	var b model.Batch
	var owners []int // slot of each output row
	budget := s.opts.BatchSize
	for i, sl := range s.slots {
		j := sl.job
		if j == nil {
			continue
		}
		if err := j.ctx.Err(); err != nil {
			j.seq.res.StopReason = "cancelled"
			j.seq.finish()
			s.release(sl, err)
			continue
		}
		n := min(len(sl.history)-j.next, budget)
		if n == 0 {
			continue
		}
		for k := j.next; k < j.next+n; k++ {
			b.Tokens = append(b.Tokens, sl.history[k])
			b.Pos = append(b.Pos, int32(k))
			b.Seq = append(b.Seq, int32(i))
		}
		j.next += n
		budget -= n
		if j.next == len(sl.history) {
			b.Outputs = append(b.Outputs, int32(len(b.Tokens)-1))
			owners = append(owners, i)
		}
	}
	if len(b.Tokens) == 0 {
		return
	}
	if len(b.Outputs) == 0 { // only prompt chunks this step
		b.Outputs = []int32{int32(len(b.Tokens) - 1)}
		owners = []int{-1}
	}
	out, err := s.sess.Forward(b)
	if err != nil {
		s.failAll(err)
		return
	}
	for r, i := range owners {
		if i < 0 {
			continue
		}
		sl := s.slots[i]
		j := sl.job
		if !j.begun {
			j.begun = true
			j.seq.prefilled(out[r], len(j.prompt)-j.seq.res.Stats.ReusedTokens)
		}
		next, done, err := j.seq.step(j.ctx, out[r], len(sl.history))
		if done {
			s.release(sl, err)
			continue
		}
		if len(sl.history) >= s.opts.Context { // j.seq.canShift: no room for next
			s.shift(sl, next)
			continue
		}
		sl.history = append(sl.history, next)
	}
}

// shift makes room in a full sequence, as Session.shift does: it keeps the
// job's first keep tokens, drops half of the others, the oldest, and leaves
// the rest, with next after them, to be recomputed at their new positions.
// (Recomputing costs a prefill of half a context; rotating the cached keys
// to their new positions would be cheaper but differs by rounding from what
// the same tokens computed afresh give, and every architecture would need it.)
func (s *Scheduler) shift(sl *slot, next int32) {
	j := sl.job
	discard := (len(sl.history) - j.keep) / 2
	sl.history = append(sl.history[:j.keep], sl.history[j.keep+discard:]...)
	sl.history = append(sl.history, next)
	j.next = j.keep
	if s.m.recurrent() { // a recurrent state cannot drop tokens: recompute all
		j.next = 0
	}
	j.seq.res.Stats.ContextShifts++
	s.mu.Lock()
	s.metrics.ContextShifts++
	s.mu.Unlock()
}

// release ends a sequence's job. The tokens it put in the cache stay there for
// the next request (a prompt cut short by cancellation keeps only what was
// computed, a token chosen but not yet computed is dropped).
func (s *Scheduler) release(sl *slot, err error) {
	j := sl.job
	j.err = err
	sl.job = nil
	s.activeCount.Add(-1)
	sl.history = sl.history[:j.next]
	s.mu.Lock()
	s.metrics.Completed++
	s.metrics.GeneratedTokens += int64(len(j.seq.res.GeneratedIDs))
	if t := j.seq.res.Stats.TTFTSeconds; t > 0 {
		s.metrics.TTFT.observe(t)
	}
	s.mu.Unlock()
	j.events.close()
}

func (s *Scheduler) failAll(err error) {
	for _, sl := range s.slots {
		if sl.job != nil {
			sl.job.seq.finish()
			s.release(sl, err)
			sl.history = sl.history[:0]
		}
	}
	s.failQueued(err)
}

// failQueued ends every request still waiting in the queue with err.
func (s *Scheduler) failQueued(err error) {
	for {
		select {
		case j := <-s.queue:
			j.err = err
			j.events.close()
		default:
			return
		}
	}
}
