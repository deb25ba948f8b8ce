package tasks

import (
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

// Errors a handler returns or sees.
var (
	// ErrSkipRetry, wrapped into a handler's error, fails the task at once
	// instead of retrying it: fmt.Errorf("bad url: %w", tasks.ErrSkipRetry).
	// Its text, "not retried", ends the error stored with the task.
	ErrSkipRetry = errors.New("not retried")
	// ErrTimeout ends an attempt that outlived the task's timeout (the
	// cause of its context, read with context.Cause).
	ErrTimeout = errors.New("tasks: attempt timed out")
	// ErrLeaseLost ends an attempt whose lease could not be renewed;
	// another worker may already be running the task.
	ErrLeaseLost = errors.New("tasks: lease lost")
	// ErrShutdown ends an attempt still running when the pool's grace
	// period ran out; the task is handed back to its queue.
	ErrShutdown = errors.New("tasks: worker shutting down")
)

// Errors a client returns, this package's Client and the HTTP client in
// api/client alike, for errors.Is.
var (
	// ErrInvalid reports a malformed request: a bad name, queue, payload
	// or option. Nothing was queued.
	ErrInvalid = errors.New("tasks: invalid request")
	// ErrUnknownName reports a task name that no worker has registered.
	// Nothing was queued.
	ErrUnknownName = errors.New("tasks: no worker handles this task name")
	// ErrNotFound reports a task ID with no record: never created, or its
	// result expired.
	ErrNotFound = results.ErrNotFound
	// ErrFinished reports a cancel of a task that has already finished.
	ErrFinished = errors.New("tasks: task already finished")
	// ErrUnavailable reports that Redis cannot serve the call now
	// (unreachable, out of memory, read-only, loading...): try again later.
	// Nothing was queued by a submission that returns it, unless Redis
	// took the write and the answer was lost (a resend of Submit may then
	// queue the task twice).
	ErrUnavailable = errors.New("tasks: Redis unavailable")
	// ErrClosed reports a call on a Client after its Close, or a Wait that
	// Close ended.
	ErrClosed = errors.New("tasks: client closed")
	// ErrQueueFull reports a submission to a queue that holds its
	// MaxLength of queued tasks (a batch: that lacks room for all of its
	// tasks there). Nothing was queued; try again later, or wait for room
	// (WaitForRoom).
	ErrQueueFull = broker.ErrQueueFull
)

// Errors of Result, about the task rather than the call.
var (
	// ErrFailed reports a task that failed for good; the error names the
	// task's last error.
	ErrFailed = errors.New("tasks: task failed")
	// ErrCanceled reports a task that was canceled. It is also the cause
	// (context.Cause) of a handler's context when its task's cancel is
	// asked while it runs (Client.Cancel, DELETE /v1/tasks/{id}): the
	// attempt then ends canceled, not retried, whatever the handler
	// returns.
	ErrCanceled = errors.New("tasks: task canceled")
	// ErrNotFinished reports a task that has not finished yet.
	ErrNotFinished = errors.New("tasks: task not finished")
)

// ErrPoolRunning reports a Pool.Run while the same pool runs.
var ErrPoolRunning = errors.New("tasks: pool already running")

// unavailable wraps err with ErrUnavailable and the reason when it means
// that Redis cannot serve the call now; other errors are returned as they
// are.
func unavailable(err error) error {
	if why, ok := broker.Unavailable(err); ok {
		return &unavailableError{why: why, err: err}
	}
	return err
}

// unavailableError is an error of Redis's that ErrUnavailable matches.
type unavailableError struct {
	why string // in words for a client: "Redis is out of memory"
	err error
}

func (e *unavailableError) Error() string { return "tasks: " + e.why + ": " + e.err.Error() }
func (e *unavailableError) Unwrap() []error {
	return []error{ErrUnavailable, e.err}
}

// ErrNoWorkers reports a broadcast submission that found no live worker
// that registered the task's name and serves its queue. Nothing was
// queued.
var ErrNoWorkers = errors.New("tasks: no live worker handles this task name in this queue")

// Errors of submissions that carry keys (Request.IdempotencyKey,
// Request.Unique). Nothing was queued.
var (
	// ErrDuplicate reports a submission refused because another task
	// holds its unique key and it asked to be refused (OnConflictReject).
	// The error is a *DuplicateError naming the holder.
	ErrDuplicate = errors.New("tasks: another task holds the unique key")
	// ErrIdempotencyMismatch reports an idempotency key first submitted
	// with a different request (name, queue, payload or options).
	ErrIdempotencyMismatch = errors.New("tasks: idempotency key already used for a different request")
)

// DuplicateError is ErrDuplicate with the task holding the key.
type DuplicateError struct {
	Key    string    // the unique key ("" when the HTTP API's answer did not say)
	Holder uuid.UUID // the task holding it
}

func (e *DuplicateError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("tasks: task %s holds the unique key", e.Holder)
	}
	return fmt.Sprintf("tasks: task %s holds the unique key %q", e.Holder, e.Key)
}

// Is makes errors.Is(err, ErrDuplicate) hold.
func (e *DuplicateError) Is(target error) bool { return target == ErrDuplicate }

// IdempotencyMismatchError is ErrIdempotencyMismatch with the task first
// submitted with the key.
type IdempotencyMismatchError struct {
	Key    string    // the idempotency key
	Holder uuid.UUID // the task first submitted with it
}

func (e *IdempotencyMismatchError) Error() string {
	return fmt.Sprintf("%v: key %q was first used for task %s", ErrIdempotencyMismatch, e.Key, e.Holder)
}

// Is makes errors.Is(err, ErrIdempotencyMismatch) hold.
func (e *IdempotencyMismatchError) Is(target error) bool { return target == ErrIdempotencyMismatch }
