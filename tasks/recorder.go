package tasks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/runq/runq/broker"
)

// maxFlush caps how many outcomes one write of the recorder carries.
const maxFlush = 256

// recorder writes the outcomes of attempts whose handlers returned, in
// batches, from one goroutine. A handler's runner hands its outcome over
// and moves on. The attempt stays in the running set, and the keeper keeps
// renewing its lease, until the outcome is written, so at-least-once
// delivery is that of a synchronous write; at most Concurrency outcomes
// wait, so a slow write holds back claiming. Under load one round trip
// records many attempts, and one goroutine wakes per batch rather than one
// per attempt.
type recorder struct {
	p    *Pool
	wake chan struct{} // cap 1: outcomes are waiting

	mu      sync.Mutex
	queue   []outcome
	stopped bool // run has given up what was left: add gives up at once
}

// outcome is an attempt's end waiting to be written.
type outcome struct {
	f     broker.Finish
	since time.Time // handed over; past since + the visibility timeout it is given up
}

func newRecorder(p *Pool) *recorder {
	return &recorder{p: p, wake: make(chan struct{}, 1)}
}

// add queues f to be written. Between two runs it gives f up at once
// instead: only a handler whose lease was lost can still return then (a
// pool that stops abandons every other), so the write would be refused,
// and a queued outcome would hold its place among the unwritten, and its
// attempt stay running, until the pool ran again.
func (r *recorder) add(f broker.Finish) {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		r.p.taskLog(f.Claimed).Warn("attempt ended after the worker stopped; its lease was lost, so its outcome is not recorded",
			"outcome", f.Outcome)
		r.p.release([]broker.Finish{f})
		return
	}
	r.queue = append(r.queue, outcome{f: f, since: time.Now()})
	r.mu.Unlock()
	wake(r.wake)
}

// run writes queued outcomes until ctx ends, then makes one last try at
// what is left. Whatever is still queued after that could not be written
// (Redis unreachable through the grace period): those tasks run again once
// their lease expires. A lease covers a claimed batch, so while this
// worker still renews it for other tasks of the batch, that is when the
// last of them is done.
func (r *recorder) run(ctx context.Context) {
	r.mu.Lock()
	r.stopped = false
	r.mu.Unlock()
	delay := newRetryDelay(20*time.Millisecond, time.Second)
	for {
		select {
		case <-r.wake:
		case <-ctx.Done():
			for batch := r.take(); len(batch) > 0 && r.flush(batch, 0); batch = r.take() {
			}
			if n := r.abandonAll(); n > 0 {
				r.p.log.Error("worker stopped with outcomes it could not record; those tasks will be redelivered", "attempts", n)
			}
			return
		}
		for ctx.Err() == nil {
			batch := r.take()
			if len(batch) == 0 {
				break
			}
			if r.flush(batch, delay.peek()) {
				delay.reset()
				continue
			}
			delay.sleep(ctx)
		}
	}
}

// take removes up to maxFlush queued outcomes, oldest first.
func (r *recorder) take() []outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := min(len(r.queue), maxFlush)
	batch := r.queue[:n:n]
	r.queue = r.queue[n:]
	if len(r.queue) == 0 {
		r.queue = nil // let the backing array go
	}
	return batch
}

// flush writes batch and reports whether the write went through. On a
// failed write it puts back, at the head of the queue, the outcomes that
// may still be written before their leases could expire, and gives up the
// others: their tasks are redelivered when their lease ends (see run).
func (r *recorder) flush(batch []outcome, retryIn time.Duration) bool {
	p := r.p
	fs := make([]broker.Finish, len(batch))
	for i, o := range batch {
		fs[i] = o.f
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	res, err := p.b.Finish(ctx, fs)
	cancel()
	if err == nil {
		p.finishedOK(began, res)
		for i, f := range fs {
			p.recorded(f, res[i])
		}
		p.release(fs)
		return true
	}
	var keep []outcome
	var lost []broker.Finish
	closed := p.clientClosed(err)
	for _, o := range batch {
		if !closed && time.Since(o.since)+retryIn < p.cfg.VisibilityTimeout {
			keep = append(keep, o)
		} else {
			lost = append(lost, o.f)
		}
	}
	if len(lost) > 0 {
		p.log.Error("could not record outcomes in time; those tasks will be redelivered when their lease expires",
			"attempts", len(lost), "task_ids", lostIDs(lost), "err", err)
	}
	p.release(lost)
	if len(keep) > 0 {
		if !p.health.failed("record outcomes", err) {
			p.log.Warn("recording outcomes failed; retrying", "attempts", len(keep), "err", err, "in", retryIn)
		}
		r.mu.Lock()
		r.queue = append(keep, r.queue...)
		r.mu.Unlock()
	}
	return false
}

// lostIDs lists the task IDs of fs for a log line: the first ten, then
// how many more.
func lostIDs(fs []broker.Finish) string {
	var b strings.Builder
	for i, f := range fs {
		if i == 10 {
			fmt.Fprintf(&b, " and %d more", len(fs)-i)
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.Claimed.ID.String())
	}
	return b.String()
}

// abandonAll gives up every queued outcome, and any added until the next
// run, and returns how many there were.
func (r *recorder) abandonAll() int {
	r.mu.Lock()
	left := r.queue
	r.queue = nil
	r.stopped = true
	r.mu.Unlock()
	fs := make([]broker.Finish, len(left))
	for i, o := range left {
		fs[i] = o.f
	}
	r.p.release(fs)
	return len(fs)
}

// recorded counts and logs the write of f, whose result is err: nil, or
// ErrLeaseLost when the lease had passed to another worker.
func (p *Pool) recorded(f broker.Finish, err error) {
	if errors.Is(err, broker.ErrLeaseLost) {
		p.stats.leaseLost.Add(1)
		p.taskLog(f.Claimed).Warn("late attempt: the lease had passed to another worker; outcome discarded", "outcome", f.Outcome)
		return
	}
	p.count(f)
	if (f.Outcome == broker.Retry || f.Outcome == broker.Release) && p.isWatched(f.Claimed) {
		p.note(f.Claimed)
	}
	if f.SchedulesWebhook() {
		wake(p.hookWake)
	}
	switch f.Outcome {
	case broker.Retry:
		p.taskLog(f.Claimed).Info("attempt failed; retry scheduled", "err", f.Error, "retry_in", f.RetryIn)
		wake(p.nudge)
	case broker.Failed:
		p.taskLog(f.Claimed).Warn("task failed", "err", f.Error)
	}
}

// finishedOK tells p.health of a finish sent at began that Redis served
// with errs: only one that applied an outcome wrote (a task's hash, first),
// and so proves that Redis takes writes (see redisHealth.ok). One whose
// attempts had all lost their leases wrote nothing, and Redis serves it
// even when out of memory or read-only.
func (p *Pool) finishedOK(began time.Time, errs []error) {
	for _, err := range errs {
		if err == nil {
			p.health.ok(began)
			return
		}
	}
}

// release ends the attempts of fs, whose outcomes were handed to the
// recorder: they leave the running set (their leases are no longer
// renewed) and make room for more outcomes.
func (p *Pool) release(fs []broker.Finish) {
	p.forget(fs)
	for range fs {
		<-p.unwritten
	}
}

// forget removes the attempts of fs from the running set.
func (p *Pool) forget(fs []broker.Finish) {
	if len(fs) == 0 {
		return
	}
	p.mu.Lock()
	for _, f := range fs {
		delete(p.running, keyOf(f.Claimed))
	}
	p.mu.Unlock()
}
