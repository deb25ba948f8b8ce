package tasks

import "errors"

// Errors of this package. Handlers use ErrSkipRetry; the rest are returned by
// Client and Registry and mapped to HTTP statuses by the API.
var (
	// ErrSkipRetry, wrapped into a handler's error, fails the task at once
	// instead of retrying it: fmt.Errorf("bad url: %w", tasks.ErrSkipRetry).
	// Its text, "not retried", ends the error stored with the task.
	ErrSkipRetry = errors.New("not retried")
	// ErrInvalid reports a malformed request: a bad name, queue or option.
	ErrInvalid = errors.New("tasks: invalid request")
	// ErrUnknownName reports a task name that no worker has registered.
	ErrUnknownName = errors.New("tasks: no worker handles this task name")
	// ErrRunning reports a cancel of a task that has already started.
	ErrRunning = errors.New("tasks: task is running")
	// ErrFinished reports a cancel of a task that has already finished.
	ErrFinished = errors.New("tasks: task already finished")
	// ErrPoolRunning reports a Pool.Run while the same pool runs.
	ErrPoolRunning = errors.New("tasks: pool already running")
)

// Causes of a handler's context ending, readable with context.Cause.
var (
	// ErrTimeout ends an attempt that outlived the task's timeout.
	ErrTimeout = errors.New("tasks: attempt timed out")
	// ErrLeaseLost ends an attempt whose lease could not be renewed; another
	// worker may already be running the task.
	ErrLeaseLost = errors.New("tasks: lease lost")
	// ErrShutdown ends an attempt still running when the pool's grace period
	// ran out; the task is handed back to its queue.
	ErrShutdown = errors.New("tasks: worker shutting down")
)
