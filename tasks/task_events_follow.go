package tasks

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
)

// follower fans the changes of followed tasks out to the Events calls
// that follow them, over one subscription (broker.Follow) per client,
// started by the first call: a stream holds no goroutine of its own.
type follower struct {
	b   *broker.Broker
	log *slog.Logger

	mu      sync.Mutex
	started bool
	stopped bool
	stop    context.CancelFunc
	ended   chan struct{} // closed when the subscription's goroutine returns
	waiters map[uuid.UUID]map[chan struct{}]struct{}
}

// follower returns the client's follower, made on first use.
func (c *Client) follower() *follower {
	c.followOnce.Do(func() {
		c.follow = &follower{b: c.b, log: c.cfg.Logger, waiters: make(map[uuid.UUID]map[chan struct{}]struct{})}
	})
	return c.follow
}

// add registers a waiter for changes of id: wake receives (without
// blocking the sender; one pending wake at most) when id changes, and
// every waiter is woken when the subscription is established again. stop
// removes it. ErrClosed once the follower stopped.
func (f *follower) add(id uuid.UUID) (wake <-chan struct{}, stop func(), err error) {
	ch := make(chan struct{}, 1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return nil, nil, fmt.Errorf("tasks: events: %w", ErrClosed)
	}
	if !f.started {
		f.started = true
		ctx, cancel := context.WithCancel(context.Background())
		f.stop, f.ended = cancel, make(chan struct{})
		go f.run(ctx)
	}
	w := f.waiters[id]
	if w == nil {
		w = make(map[chan struct{}]struct{}, 1)
		f.waiters[id] = w
	}
	w[ch] = struct{}{}
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(w, ch)
		if len(f.waiters[id]) == 0 { // w, or a map made since: not one with waiters
			delete(f.waiters, id)
		}
	}, nil
}

// run keeps the subscription until ctx ends, setting it up again after a
// pause when it breaks.
func (f *follower) run(ctx context.Context) {
	defer close(f.ended)
	delay := newRetryDelay(50*time.Millisecond, 5*time.Second)
	for ctx.Err() == nil {
		err := f.b.Follow(ctx, f.changed, func() { f.wakeAll(); delay.reset() })
		if err == nil || ctx.Err() != nil {
			return
		}
		f.log.Warn("following task events failed; retrying", "err", err, "in", delay.peek())
		delay.sleep(ctx)
	}
}

// changed wakes the waiters of id.
func (f *follower) changed(id uuid.UUID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.waiters[id] {
		wake(ch)
	}
}

// wakeAll wakes every waiter: changes may have been missed.
func (f *follower) wakeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.waiters {
		for ch := range w {
			wake(ch)
		}
	}
}

// close stops the subscription and waits for it.
func (f *follower) close() {
	f.mu.Lock()
	f.stopped = true
	stop, ended := f.stop, f.ended
	f.mu.Unlock()
	if stop != nil {
		stop()
		<-ended
	}
}
