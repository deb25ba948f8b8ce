package broker

import (
	"context"
	"sync"
	"time"
)

// groupCommit batches concurrent calls into flushes, as databases batch
// commits: a call that finds a free lane flushes at once, with no added
// delay; calls that arrive while every lane is flushing wait and go
// together in the next flush. Under load, one round trip and one script
// call then serve many tasks; when idle, each call is a flush of one.
//
// With one lane, throughput is at most one batch per round trip, which
// leaves Redis idle while a flush travels; a few lanes keep several flushes
// in flight, each still batching what waits.
type groupCommit[T, R any] struct {
	flush func(ctx context.Context, items []T) ([]R, error) // one result per item
	max   int                                               // items per flush
	lanes int                                               // flushes in flight at once; 0 means 1

	mu      sync.Mutex
	pending []*gcCall[T, R]
	leaders int // flushes in progress (or being handed over)
}

type gcCall[T, R any] struct {
	item T
	done chan gcResult[T, R] // the result, or first a batch to lead
}

type gcResult[T, R any] struct {
	val   R
	err   error
	batch []*gcCall[T, R] // set when this call is to flush batch (itself first)
}

// flushTimeout bounds one flush. A flush serves many callers, so it does
// not end with any one caller's context.
const flushTimeout = 10 * time.Second

// do adds item to a flush and returns its result. It does not return
// before its item's flush ends, whatever ctx does: the item may be applied
// either way, and a caller that left could strand a lane.
func (g *groupCommit[T, R]) do(ctx context.Context, item T) (R, error) {
	c := &gcCall[T, R]{item: item, done: make(chan gcResult[T, R], 1)}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	var batch []*gcCall[T, R]
	if g.leaders < max(g.lanes, 1) {
		g.leaders++
		batch = g.takeLocked()
	}
	g.mu.Unlock()
	for {
		if batch != nil {
			g.lead(ctx, batch)
		}
		r := <-c.done
		if r.batch == nil {
			return r.val, r.err
		}
		batch = r.batch
	}
}

// takeLocked removes up to max pending calls, oldest first; g.mu is held.
// Each call is taken once, so it is in one batch only.
func (g *groupCommit[T, R]) takeLocked() []*gcCall[T, R] {
	n := min(len(g.pending), g.max)
	batch := g.pending[:n:n]
	g.pending = g.pending[n:]
	if len(g.pending) == 0 {
		g.pending = nil
	}
	return batch
}

// lead flushes batch and answers its calls, then hands the next batch to
// the oldest call still waiting, so no caller flushes for others for long;
// with nothing waiting, the lane is free.
func (g *groupCommit[T, R]) lead(ctx context.Context, batch []*gcCall[T, R]) {
	items := make([]T, len(batch))
	for i, c := range batch {
		items[i] = c.item
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	vals, err := g.flush(fctx, items)
	cancel()
	for i, c := range batch {
		var r gcResult[T, R]
		if err != nil {
			r.err = err
		} else {
			r.val = vals[i]
		}
		c.done <- r
	}

	g.mu.Lock()
	if _, down := Unavailable(err); down {
		// Redis is down: the calls that queued behind this flush would
		// each wait out a failing flush of their own. Fail them now with
		// the same error, so that callers (an HTTP 503) hear at once.
		for _, c := range g.pending {
			c.done <- gcResult[T, R]{err: err}
		}
		g.pending = nil
	}
	if len(g.pending) == 0 {
		g.leaders--
		g.mu.Unlock()
		return
	}
	next := g.takeLocked()
	g.mu.Unlock()
	next[0].done <- gcResult[T, R]{batch: next}
}
