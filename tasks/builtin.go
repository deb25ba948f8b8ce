package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SleepArgs is the payload of the built-in "sleep" task.
type SleepArgs struct {
	MS int `json:"ms"` // how long to sleep, in milliseconds
}

// SleepResult is the result of the built-in "sleep" task.
type SleepResult struct {
	SleptMS int `json:"slept_ms"`
}

// FailArgs is the payload of the built-in "fail" task.
type FailArgs struct {
	Message string `json:"message"` // the error to return; "" means "failed on purpose"
}

// MaxSleep caps the built-in sleep task.
const MaxSleep = time.Hour

// RegisterBuiltins registers the built-in handlers used for trying runq out
// and for benchmarks:
//
//	echo   returns its payload
//	sleep  waits {"ms": N} milliseconds, stopping early if cancelled
//	fail   always returns an error ({"message": "..."} to choose it)
func RegisterBuiltins(r *Registry) {
	r.HandleFunc("echo", func(ctx context.Context, t *Task) (any, error) {
		return t.Payload, nil
	})
	Handle(r, "sleep", func(ctx context.Context, t *Task, in SleepArgs) (SleepResult, error) {
		d := time.Duration(in.MS) * time.Millisecond
		if d < 0 || d > MaxSleep {
			return SleepResult{}, fmt.Errorf("ms must be 0 to %d: %w", MaxSleep.Milliseconds(), ErrSkipRetry)
		}
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
			return SleepResult{SleptMS: in.MS}, nil
		case <-ctx.Done():
			return SleepResult{}, context.Cause(ctx)
		}
	})
	Handle(r, "fail", func(ctx context.Context, t *Task, in FailArgs) (any, error) {
		if in.Message == "" {
			in.Message = "failed on purpose"
		}
		return nil, errors.New(in.Message)
	}, HandlerOptions{MaxRetries: NoRetries})
}
