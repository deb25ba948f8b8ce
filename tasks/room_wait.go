package tasks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

type waitForRoomKey struct{}

// WaitForRoom returns a copy of ctx under which a submission refused by a
// full queue waits for room until ctx ends, instead of failing at once
// with ErrQueueFull: Submit and SubmitBatch of a Client, those of the HTTP
// client in api/client (which asks the server to wait, as POST
// /v1/tasks?wait= does), and the typed Submit through either. Bound the
// wait with context.WithTimeout: when ctx ends first, nothing was queued
// and the error matches both ErrQueueFull and ctx's error. A batch waits
// until all its tasks fit; one with more tasks for a queue than its
// max_length fails at once, as it never fits. The wait is a callback on one
// subscription per Client, not a poll: it ends within a round trip of a
// worker taking a task from the full queue, or within a second should
// that notice be lost.
func WaitForRoom(ctx context.Context) context.Context {
	return context.WithValue(ctx, waitForRoomKey{}, true)
}

// WaitsForRoom reports whether ctx came from WaitForRoom: for clients of
// runq over other transports, which pass the wait on.
func WaitsForRoom(ctx context.Context) bool {
	v, _ := ctx.Value(waitForRoomKey{}).(bool)
	return v
}

// noRoomError is a refusal for lack of room that a wait did not outlast.
type noRoomError struct {
	full  error // the last refusal, a *broker.FullError
	cause error // why the wait ended: ctx's error, or nil for a deadline
}

func (e *noRoomError) Error() string { return e.full.Error() + "; no room came within the wait" }
func (e *noRoomError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.full}
	}
	return []error{e.full, e.cause}
}

// refusal returns the *broker.FullError in err, if err is a refusal for
// lack of room.
func refusal(err error) *broker.FullError {
	var full *broker.FullError
	if errors.As(err, &full) {
		return full
	}
	return nil
}

// waiterFor returns a waiter for room in the queue that full names,
// needing a place for each task of ts in it; an error when they can never
// fit, however long the wait.
func waiterFor(full *broker.FullError, err error, ts []broker.NewTask, wake func()) (*roomWaiter, error) {
	need := 0
	for _, t := range ts {
		if t.Queue == full.Queue {
			need++
		}
	}
	if need > full.MaxLength {
		return nil, fmt.Errorf("%w; its max_length never takes the %d tasks for it", err, need)
	}
	return &roomWaiter{queue: full.Queue, need: need, wake: wake}, nil
}

// enqueueWaiting queues ts, waiting for room, each time a queue refuses
// them, until ctx ends or the Client closes.
func (c *Client) enqueueWaiting(ctx context.Context, ts []broker.NewTask) ([]results.Record, error) {
	woke := make(chan struct{}, 1)
	var w *roomWaiter
	defer func() {
		if w != nil {
			c.rooms.leave(w)
		}
	}()
	for {
		recs, err := c.enqueue(ctx, ts)
		full := refusal(err)
		if full == nil {
			return recs, err
		}
		if w == nil || w.queue != full.Queue {
			if w != nil {
				c.rooms.leave(w)
			}
			var ferr error
			if w, ferr = waiterFor(full, err, ts, func() { wake(woke) }); ferr != nil {
				return nil, ferr
			}
		}
		if !c.rooms.add(w) {
			return nil, fmt.Errorf("tasks: submit: %w while waiting for room in queue %s", ErrClosed, full.Queue)
		}
		select {
		case <-woke:
		case <-ctx.Done():
			return nil, &noRoomError{full: err, cause: ctx.Err()}
		case <-c.closing:
		}
		if c.closed.Load() {
			return nil, fmt.Errorf("tasks: submit: %w while waiting for room in queue %s", ErrClosed, full.Queue)
		}
	}
}

// ParkSubmit carries on a submission of rs that a full queue refused
// (refused is the error that SubmitBatch, or Submit, returned): it waits
// for room until deadline, submits rs again, with their defaults as then,
// whenever the queue may have room, and calls fn once, on a goroutine of
// its own, with the records or the error: one matching ErrQueueFull when
// no room came before the deadline, or before Close. Unlike a Submit under
// WaitForRoom, it holds no goroutine while it waits, so that a server can
// hold many waiting submissions: the HTTP API parks POST /v1/tasks?wait=
// on it. A refused that is not a refusal for lack of room is no reason to
// wait: rs are submitted at once. fn must not block for long. cancel ends
// the wait and reports whether that stopped fn from being called; a
// submission already sent may still queue the tasks.
func (c *Client) ParkSubmit(rs []Request, refused error, deadline time.Time, fn func([]results.Record, error)) (cancel func() bool) {
	p := &parkedSubmit{c: c, rs: rs, deadline: deadline, fn: fn}
	p.mu.Lock()
	p.timer = time.AfterFunc(time.Until(deadline), p.expire)
	p.mu.Unlock()
	if !p.park(refused) {
		go p.attempt()
	}
	return p.cancel
}

// parkedSubmit is a submission of ParkSubmit: an attempt runs on a
// goroutine of its own, and between attempts it waits in rooms' line,
// woken by rooms or by its timer.
type parkedSubmit struct {
	c        *Client
	rs       []Request
	deadline time.Time
	fn       func([]results.Record, error)

	mu    sync.Mutex
	ts    []broker.NewTask // prepared by the first attempt
	w     *roomWaiter      // while it waits for room
	timer *time.Timer
	last  error // the last refusal
	done  bool  // fn called, or canceled
}

// parkedAttemptTimeout bounds one attempt of a parked submission.
const parkedAttemptTimeout = 15 * time.Second

// park puts the submission in line at once, after the refusal that was
// its first attempt (the check that add asks for finds any room that came
// since), and reports whether it did: not when refused is no refusal or
// the tasks cannot be prepared, which an attempt reports.
func (p *parkedSubmit) park(refused error) bool {
	full := refusal(refused)
	if full == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), parkedAttemptTimeout)
	ts, err := p.c.prepare(ctx, p.rs) // names seen by the refused attempt: no round trip
	cancel()
	if err != nil {
		return false
	}
	w, err := waiterFor(full, refused, ts, p.woken)
	if err != nil {
		go p.finish(nil, err)
		return true
	}
	p.mu.Lock()
	p.ts, p.w, p.last = ts, w, refused
	p.waitLocked()
	return true
}

// waitLocked puts p in line (before p.mu is let go, so that cancel and
// expire find it there) and lets go of p.mu; after Close, it answers. A
// deadline that passed meanwhile is seen to: the timer may have found p
// out of line.
func (p *parkedSubmit) waitLocked() {
	added := p.c.rooms.add(p.w)
	p.mu.Unlock()
	switch {
	case !added:
		p.woken()
	case !time.Now().Before(p.deadline):
		p.expire()
	}
}

// attempt submits, and answers or waits again.
func (p *parkedSubmit) attempt() {
	c := p.c
	p.mu.Lock()
	canceled := p.done
	p.mu.Unlock()
	if canceled {
		return
	}
	if err := c.begin("submit"); err != nil {
		p.finish(nil, p.final(err))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), parkedAttemptTimeout)
	recs, err := p.submit(ctx)
	cancel()
	c.calls.RUnlock()
	full := refusal(err)
	if full == nil || !time.Now().Before(p.deadline) {
		p.finish(recs, p.final(err))
		return
	}
	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		return
	}
	p.last = err
	if p.w == nil || p.w.queue != full.Queue {
		if p.w != nil {
			c.rooms.leave(p.w)
		}
		var ferr error
		if p.w, ferr = waiterFor(full, err, p.ts, p.woken); ferr != nil {
			p.mu.Unlock()
			p.finish(nil, ferr)
			return
		}
	}
	p.waitLocked()
}

// woken is p's wake-up from rooms: an attempt, on a goroutine of its own;
// once Client.Close has begun, the answer, at once, so that Close returns
// after the parked submissions were answered (a server shutting down
// answers them before it exits).
func (p *parkedSubmit) woken() {
	if p.c.closed.Load() {
		p.finish(nil, p.final(ErrClosed))
		return
	}
	go p.attempt()
}

// submit prepares the tasks the first time, then queues them.
func (p *parkedSubmit) submit(ctx context.Context) ([]results.Record, error) {
	p.mu.Lock()
	ts := p.ts
	p.mu.Unlock()
	if ts == nil {
		var err error
		if ts, err = p.c.prepare(ctx, p.rs); err != nil {
			return nil, err
		}
		p.mu.Lock()
		p.ts = ts
		p.mu.Unlock()
	}
	return p.c.enqueue(ctx, ts)
}

// final is the outcome to answer with err: a refusal that the deadline
// ended is a noRoomError, and so is Close ending a wait (with the last
// refusal); anything else, err itself.
func (p *parkedSubmit) final(err error) error {
	if errors.Is(err, ErrClosed) {
		p.mu.Lock()
		last := p.last
		p.mu.Unlock()
		if last == nil {
			return err
		}
		err = last
	}
	if refusal(err) != nil {
		return &noRoomError{full: err}
	}
	return err
}

// expire answers at the deadline, unless an attempt is under way (it
// answers itself, seeing the deadline passed).
func (p *parkedSubmit) expire() {
	p.mu.Lock()
	w, last := p.w, p.last
	p.mu.Unlock()
	if w != nil && p.c.rooms.leave(w) {
		p.finish(nil, &noRoomError{full: last})
	}
}

// finish calls fn once, unless canceled.
func (p *parkedSubmit) finish(recs []results.Record, err error) {
	if p.end() {
		p.fn(recs, err)
	}
}

func (p *parkedSubmit) cancel() bool { return p.end() }

// end marks p done, the first time, and takes it out of line: it reports
// whether this call did, and so owns the answer.
func (p *parkedSubmit) end() bool {
	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		return false
	}
	p.done = true
	p.timer.Stop()
	w := p.w
	p.mu.Unlock()
	if w != nil {
		p.c.rooms.leave(w)
	}
	return true
}
