package tasks

import (
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
)

// Observer watches a pool's attempts, for metrics (package api/metrics
// has one for Prometheus), so that tasks needs no metrics library: a
// worker program that asks for no metrics links none. Its methods are
// called on the worker's hot path, from many goroutines at once: they
// must be safe for concurrent use, quick, and must not block.
//
// Every AttemptStarted is followed by exactly one AttemptEnded for the
// same attempt, so started minus ended is the attempts running.
type Observer interface {
	// AttemptStarted is called as a claimed task's handler is launched.
	// waited is the time since the task was created (the time in its
	// UUIDv7 ID, to the millisecond): for a retry it includes the earlier
	// attempts and their backoff.
	AttemptStarted(queue, name string, waited time.Duration)
	// AttemptEnded is called when an attempt's outcome is known: its
	// handler returned, or the pool gave up on a handler that ignored its
	// timeout or shutdown. ran is the time since it started. It is called
	// before the outcome is written, so a write that Redis refuses (the
	// lease passed to another worker) still counts the attempt.
	AttemptEnded(queue, name string, outcome AttemptOutcome, ran time.Duration)
}

// AttemptOutcome is how an attempt ended, as an Observer sees it.
type AttemptOutcome string

const (
	// AttemptSucceeded: the handler returned a result.
	AttemptSucceeded AttemptOutcome = "succeeded"
	// AttemptFailed: the task failed for good (no retries left, or
	// ErrSkipRetry).
	AttemptFailed AttemptOutcome = "failed"
	// AttemptRetried: the attempt failed and a retry is scheduled.
	AttemptRetried AttemptOutcome = "retried"
	// AttemptReleased: the worker stopped, or lost the task's lease, before
	// the handler finished; the task goes back to its queue.
	AttemptReleased AttemptOutcome = "released"
	// AttemptCanceled: the task's cancel was asked while it ran; it ends
	// canceled, not retried.
	AttemptCanceled AttemptOutcome = "canceled"
)

// attemptOutcome maps the outcome a pool writes to the one it reports.
func attemptOutcome(o broker.Outcome) AttemptOutcome {
	switch o {
	case broker.Succeeded:
		return AttemptSucceeded
	case broker.Retry:
		return AttemptRetried
	case broker.Release:
		return AttemptReleased
	case broker.Canceled:
		return AttemptCanceled
	}
	return AttemptFailed
}

// observeStart tells the pool's Observer, if any, that c starts at now.
func (p *Pool) observeStart(c *broker.Claimed, now time.Time) {
	if p.cfg.Observer == nil {
		return
	}
	p.cfg.Observer.AttemptStarted(c.Queue, c.Name, now.Sub(created(c.ID)))
}

// observeEnd tells the pool's Observer, if any, that c, started at
// started, ended with o.
func (p *Pool) observeEnd(c *broker.Claimed, o broker.Outcome, started time.Time) {
	if p.cfg.Observer == nil {
		return
	}
	p.cfg.Observer.AttemptEnded(c.Queue, c.Name, attemptOutcome(o), time.Since(started))
}

// created is the creation time carried by a task ID, a UUIDv7 (see
// broker's NewID), to the millisecond. A task written otherwise has no
// such time: it reads as now, so it does not skew the wait.
func created(id uuid.UUID) time.Time {
	if id.Version() != 7 {
		return time.Now()
	}
	sec, nsec := id.Time().UnixTime()
	return time.Unix(sec, nsec)
}
