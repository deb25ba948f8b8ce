package tasks

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/runq/runq/results"
)

// Submitter queues tasks: a Client, or the HTTP client of package
// api/client.
type Submitter interface {
	Submit(ctx context.Context, r Request) (results.Record, error)
}

// Submit queues a task called name whose payload is in, encoded as JSON,
// through s, with opts (at most one); its handler is typically registered
// with Handle for the same In. It returns the task's record, as
// s.Submit does.
func Submit[In any](ctx context.Context, s Submitter, name string, in In, opts ...Options) (results.Record, error) {
	if len(opts) > 1 {
		return results.Record{}, fmt.Errorf("%w: more than one Options for %s", ErrInvalid, name)
	}
	payload, err := json.Marshal(in)
	if err != nil {
		return results.Record{}, fmt.Errorf("%w: payload of %s does not encode as JSON: %v", ErrInvalid, name, err)
	}
	r := Request{Name: name, Payload: payload}
	if len(opts) == 1 {
		r.Options = opts[0]
	}
	return s.Submit(ctx, r)
}

// Waiter waits for tasks to finish: a Client, or the HTTP client of
// package api/client.
type Waiter interface {
	Wait(ctx context.Context, id uuid.UUID) (results.Record, error)
}

// Await waits for task id to finish, through w, and decodes its result into
// Out, as w.Wait then Result do.
func Await[Out any](ctx context.Context, w Waiter, id uuid.UUID) (Out, error) {
	rec, err := w.Wait(ctx, id)
	if err != nil {
		var zero Out
		return zero, err
	}
	return Result[Out](rec)
}

// Result decodes the result of a finished task into Out, the type its
// handler returned (see Handle). A task that failed is ErrFailed, with its
// last error; a canceled one ErrCanceled; one that has not finished
// ErrNotFinished (Wait for it first).
func Result[Out any](rec results.Record) (Out, error) {
	var out Out
	switch rec.Status {
	case results.StatusSucceeded:
	case results.StatusFailed:
		return out, fmt.Errorf("%w: %s: %s", ErrFailed, rec.Name, rec.Error)
	case results.StatusCanceled:
		return out, fmt.Errorf("%w: %s %s", ErrCanceled, rec.Name, rec.ID)
	default:
		return out, fmt.Errorf("%w: %s %s is %s", ErrNotFinished, rec.Name, rec.ID, rec.Status)
	}
	if err := json.Unmarshal(rec.Result, &out); err != nil {
		return out, fmt.Errorf("tasks: result of %s does not decode as %T: %w", rec.Name, out, err)
	}
	return out, nil
}
