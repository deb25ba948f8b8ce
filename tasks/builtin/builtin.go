// Package builtin holds the handlers that the runq binary registers, for
// trying runq out and for benchmarks:
//
//	echo   returns its payload
//	sleep  waits {"ms": N} milliseconds, stopping early when cancelled
//	fail   always fails ({"message": "..."} chooses the error; not retried
//	       unless the task asks for retries)
//
// A worker program of your own registers them with Register if it wants
// them.
package builtin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/runq/runq/tasks"
)

// SleepIn is the payload of the sleep task.
type SleepIn struct {
	MS int `json:"ms"` // how long to sleep, in milliseconds
}

// SleepOut is the result of the sleep task.
type SleepOut struct {
	SleptMS int `json:"slept_ms"`
}

// FailIn is the payload of the fail task.
type FailIn struct {
	Message string `json:"message"` // the error to return; "" means "failed on purpose"
}

// MaxSleep caps the sleep task.
const MaxSleep = time.Hour

// Register registers echo, sleep and fail on reg.
func Register(reg *tasks.Registry) {
	reg.HandleFunc("echo", func(ctx context.Context, t *tasks.Task) (any, error) {
		return t.Payload, nil
	})
	tasks.Handle(reg, "sleep", func(ctx context.Context, t *tasks.Task, in SleepIn) (SleepOut, error) {
		d := time.Duration(in.MS) * time.Millisecond
		if d < 0 || d > MaxSleep {
			return SleepOut{}, fmt.Errorf("ms must be 0 to %d: %w", MaxSleep.Milliseconds(), tasks.ErrSkipRetry)
		}
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
			return SleepOut{SleptMS: in.MS}, nil
		case <-ctx.Done():
			return SleepOut{}, context.Cause(ctx)
		}
	})
	tasks.Handle(reg, "fail", func(ctx context.Context, t *tasks.Task, in FailIn) (any, error) {
		if in.Message == "" {
			in.Message = "failed on purpose"
		}
		return nil, errors.New(in.Message)
	}, tasks.HandlerOptions{MaxRetries: tasks.NoRetries})
}
