package engine

import "sync"

// eventQueue carries a job's tokens from the scheduler to the caller without
// ever blocking the scheduler: a slow client slows only itself.
type eventQueue struct {
	mu     sync.Mutex
	tokens []Token
	closed bool
	ready  chan struct{} // has a value when tokens or closed changed
}

func newEventQueue() *eventQueue { return &eventQueue{ready: make(chan struct{}, 1)} }

// push adds a token (it never fails: the scheduler's emit).
func (q *eventQueue) push(t Token) error {
	q.mu.Lock()
	q.tokens = append(q.tokens, t)
	q.mu.Unlock()
	q.signal()
	return nil
}

func (q *eventQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

func (q *eventQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// wait returns the tokens pushed since the last call, and whether the queue is
// closed (no more will come). It gives up, with ok false, when done or
// stopped is closed first.
func (q *eventQueue) wait(done <-chan struct{}, stopped <-chan struct{}) (tokens []Token, closed, ok bool) {
	for {
		q.mu.Lock()
		tokens, closed = q.tokens, q.closed
		q.tokens = nil
		q.mu.Unlock()
		if len(tokens) > 0 || closed {
			return tokens, closed, true
		}
		select {
		case <-q.ready:
		case <-done:
			return nil, false, false
		case <-stopped:
			return nil, false, false
		}
	}
}
