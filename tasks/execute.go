package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/runq/runq/broker"
)

// MaxResult is the largest result stored, in bytes of JSON; a larger one
// fails the task.
const MaxResult = 1 << 20

// execute runs one attempt of c and returns its outcome, with false when
// the keeper abandoned the attempt first (and so records it instead).
func (p *Pool) execute(ctx context.Context, c *broker.Claimed) (broker.Finish, bool) {
	timeout := p.timeout(c) // ctx's deadline (launchAll)

	var result any
	var err error
	if c.Unreadable != nil {
		err = fmt.Errorf("%w (%w)", c.Unreadable, ErrSkipRetry)
	} else if h, ok := p.reg.lookup(c.Name); ok {
		result, err = p.call(ctx, h.fn, c)
	} else {
		err = fmt.Errorf("no handler for %q in this worker (it handles %v)", c.Name, p.reg.Names())
	}
	// A result is recorded whatever ended the context: the write is fenced
	// by the lease, so it lands only if this attempt still holds it. An
	// error caused by shutdown or a lost lease is not the task's failure:
	// the task is handed back (again fenced) instead.
	f := broker.Finish{Claimed: c}
	switch {
	case err == nil:
		f.Result, err = encodeResult(result)
		if err == nil {
			f.Outcome = broker.Succeeded
		}
	case errIs(context.Cause(ctx), ErrShutdown, ErrLeaseLost):
		f.Outcome = broker.Release
	}
	if f.Outcome == "" {
		if errors.Is(context.Cause(ctx), ErrTimeout) {
			err = fmt.Errorf("timed out after %s: %w", timeout, err)
		}
		p.failure(&f, err)
	}
	mine, canceled := p.markReturned(c)
	if canceled {
		// Whatever the handler returned: a cancel asked while it ran ends
		// the task canceled, not failed, retried or handed back.
		f = broker.Finish{Claimed: c, Outcome: broker.Canceled}
	}
	if !mine {
		p.taskLog(c).Warn("abandoned handler returned at last; its outcome was already recorded", "outcome", f.Outcome)
		return f, false
	}
	return f, true
}

// taskLog returns the pool's logger with c's fixed attributes. It is made
// only when there is something to log: With formats the attributes at once,
// which would cost every task.
func (p *Pool) taskLog(c *broker.Claimed) *slog.Logger {
	return p.log.With("task_id", c.ID, "queue", c.Queue, "name", c.Name, "attempt", c.Attempts)
}

// markReturned claims the right to record c's outcome for its executor,
// and reports false if the keeper abandoned the attempt first: exactly one
// of the two records it; and whether the task's cancel was asked while the
// attempt ran (one lock for both, on every attempt).
func (p *Pool) markReturned(c *broker.Claimed) (mine, canceled bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.running[keyOf(c)]
	if a == nil {
		return false, false
	}
	if a.abandoned {
		return false, a.canceled
	}
	a.returned = true
	return true, a.canceled
}

// encodeResult renders a handler's result as the JSON to store.
func encodeResult(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("result is not JSON-encodable: %v: %w", err, ErrSkipRetry)
	}
	if len(raw) > MaxResult {
		return nil, fmt.Errorf("result is %d bytes, over the limit of %d: %w", len(raw), MaxResult, ErrSkipRetry)
	}
	return raw, nil
}

// failure turns a failed attempt into a retry or a final failure.
func (p *Pool) failure(f *broker.Finish, err error) {
	c := f.Claimed
	f.Error = fmt.Sprintf("attempt %d: %v", c.Attempts, err)
	if errors.Is(err, ErrSkipRetry) || c.Failures >= c.MaxRetries {
		f.Outcome = broker.Failed
		return
	}
	f.Outcome = broker.Retry
	f.RetryIn = p.cfg.Backoff(c.Failures + 1)
}

// call runs fn, turning a panic into an error that carries the stack.
func (p *Pool) call(ctx context.Context, fn HandlerFunc, c *broker.Claimed) (result any, err error) {
	defer func() {
		if v := recover(); v != nil {
			p.stats.panics.Add(1)
			err = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
		}
	}()
	pw := &progressWriter{p: p, c: c}
	defer pw.stop()
	return fn(ctx, &Task{
		ID: c.ID, Name: c.Name, Queue: c.Queue, Payload: c.Payload,
		Attempt: c.Attempts, MaxRetries: c.MaxRetries, progress: pw,
	})
}

// record writes f at once, retrying transient Redis errors while the lease
// could still be held. If it cannot, the lease expires and the task is run
// again: delivery stays at least once. The keeper uses it for abandoned
// attempts; returned attempts go through the recorder.
func (p *Pool) record(f broker.Finish) {
	deadline := time.Now().Add(p.cfg.VisibilityTimeout)
	delay := newRetryDelay(20*time.Millisecond, time.Second)
	for {
		began := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := p.b.Finish(ctx, []broker.Finish{f})
		cancel()
		if err == nil {
			p.finishedOK(began, res)
			p.recorded(f, res[0])
			return
		}
		if p.clientClosed(err) || time.Now().Add(delay.peek()).After(deadline) {
			p.taskLog(f.Claimed).Error("could not record outcome; the task will be redelivered", "outcome", f.Outcome, "err", err)
			return
		}
		if !p.health.failed("record an outcome", err) {
			p.taskLog(f.Claimed).Warn("recording outcome failed; retrying", "err", err)
		}
		delay.sleep(context.Background())
	}
}

func (p *Pool) count(f broker.Finish) {
	if f.Outcome != broker.Release {
		p.tally.add(f, time.Now())
	}
	switch f.Outcome {
	case broker.Succeeded:
		p.stats.succeeded.Add(1)
	case broker.Failed:
		p.stats.failed.Add(1)
	case broker.Retry:
		p.stats.retried.Add(1)
	case broker.Release:
		p.stats.released.Add(1)
	case broker.Canceled:
		p.stats.canceled.Add(1)
	}
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
