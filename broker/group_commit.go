package broker

import (
	"context"
	"sync"
	"time"
)

// groupCommit batches concurrent calls into one flush, as databases batch
// commits: a call that finds no flush in progress flushes at once, with no
// added delay; calls that arrive while a flush is in progress wait and go
// together in the next one. Under load, one round trip and one script call
// then serve many tasks; when idle, each call is a flush of one.
type groupCommit[T, R any] struct {
	flush func(ctx context.Context, items []T) ([]R, error) // one result per item
	max   int                                               // items per flush

	mu      sync.Mutex
	pending []*gcCall[T, R]
	busy    bool // a leader is flushing
}

type gcCall[T, R any] struct {
	item T
	done chan gcResult[R] // the result, or first a turn to lead
}

type gcResult[R any] struct {
	val  R
	err  error
	lead bool
}

// flushTimeout bounds one flush. A flush serves many callers, so it does
// not end with any one caller's context.
const flushTimeout = 10 * time.Second

// do adds item to the next flush and returns its result. It does not return
// before its item's flush ends, whatever ctx does: the item may be applied
// either way, and a caller that left could strand the leadership.
func (g *groupCommit[T, R]) do(ctx context.Context, item T) (R, error) {
	c := &gcCall[T, R]{item: item, done: make(chan gcResult[R], 1)}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	if g.busy {
		g.mu.Unlock()
		r := <-c.done
		if !r.lead {
			return r.val, r.err
		}
	} else {
		g.busy = true
		g.mu.Unlock()
	}
	g.lead(ctx)
	r := <-c.done
	return r.val, r.err
}

// lead flushes up to max pending calls, then hands the lead to the oldest
// call still waiting, so no caller flushes for others for long.
func (g *groupCommit[T, R]) lead(ctx context.Context) {
	g.mu.Lock()
	n := min(len(g.pending), g.max)
	batch := g.pending[:n:n]
	g.pending = g.pending[n:]
	g.mu.Unlock()

	items := make([]T, len(batch))
	for i, c := range batch {
		items[i] = c.item
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	vals, err := g.flush(fctx, items)
	cancel()
	for i, c := range batch {
		var r gcResult[R]
		if err != nil {
			r.err = err
		} else {
			r.val = vals[i]
		}
		c.done <- r
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil && IsUnavailable(err) {
		// Redis is down: the calls that queued behind this flush would
		// each wait out a failing flush of their own. Fail them now with
		// the same error, so that callers (an HTTP 503) hear at once.
		for _, c := range g.pending {
			c.done <- gcResult[R]{err: err}
		}
		g.pending = nil
	}
	if len(g.pending) == 0 {
		g.busy = false
		g.pending = nil
		return
	}
	g.pending[0].done <- gcResult[R]{lead: true}
}
