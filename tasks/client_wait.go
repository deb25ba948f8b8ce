package tasks

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/results"
)

// Get returns the record of task id; ErrNotFound when there is none.
func (c *Client) Get(ctx context.Context, id uuid.UUID) (results.Record, error) {
	if err := c.begin("get"); err != nil {
		return results.Record{}, err
	}
	defer c.calls.RUnlock()
	return c.get(ctx, id)
}

func (c *Client) get(ctx context.Context, id uuid.UUID) (results.Record, error) {
	rec, err := c.b.Get(ctx, id)
	if err != nil {
		return results.Record{}, fmt.Errorf("tasks: get: %w", unavailable(err))
	}
	return rec, nil
}

// Wait returns the record of task id once it has finished (succeeded,
// failed or canceled). When ctx ends first, it returns the record last
// read with ctx's error: bound a wait with context.WithTimeout. Every Wait
// of a Client shares one Redis subscription, held while any waits (and
// 30s after), and reads the record again when told the task finished, so
// many waits cost one connection and no polling (a waiting task is read
// again every 30s all the same, should a notification be lost).
// ErrNotFound when there is no such task; ErrClosed, with the record last
// read, when Close ends it.
func (c *Client) Wait(ctx context.Context, id uuid.UUID) (results.Record, error) {
	if err := c.begin("wait"); err != nil {
		return results.Record{}, err
	}
	defer c.calls.RUnlock()
	if err := c.startWatcher(); err != nil {
		return results.Record{}, err
	}
	for {
		rec, err := c.watcher.Wait(ctx, id, rereadEvery)
		switch {
		case err != nil && ctx.Err() != nil:
			return rec, fmt.Errorf("tasks: wait for %s: %w", id, ctx.Err())
		case err != nil:
			return rec, fmt.Errorf("tasks: wait: %w", unavailable(err))
		case rec.Status.Terminal():
			return rec, nil
		}
		select {
		case <-c.closing:
			return rec, fmt.Errorf("tasks: wait for %s: %w", id, ErrClosed)
		default: // rereadEvery passed: wait again
		}
	}
}

// rereadEvery bounds how long Wait trusts the subscription alone: a
// notification lost between a worker and Redis costs at most this long.
const rereadEvery = 30 * time.Second

// startWatcher starts the watcher that Waits share, the first time;
// ErrClosed once Close has begun.
func (c *Client) startWatcher() error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed.Load() {
		return fmt.Errorf("tasks: wait: %w", ErrClosed)
	}
	if c.stopWatch == nil {
		wctx, stop := context.WithCancel(context.Background())
		c.stopWatch, c.watched = stop, make(chan struct{})
		go func() {
			defer close(c.watched)
			_ = c.watcher.Run(wctx)
		}()
	}
	return nil
}

// Cancel cancels task id if it has not started, and returns its record,
// status canceled; canceling a canceled task again does the same. The
// cancel of a running task is asked of the worker that runs it, wherever
// it is: the record returned is still running, with CancelRequestedAt
// set; the worker cancels the handler's context (cause ErrCanceled) and
// records the task canceled, not retried (Wait for it). A running
// broadcast task is canceled at once instead, and its inboxes dropped: the
// workers already running it are not interrupted, and their answers are
// ignored. Errors:
// ErrNotFound, ErrFinished for a task that has finished otherwise. A
// canceled task's unique key (Request.Unique) is free at once, and its
// claim is deleted from Redis.
func (c *Client) Cancel(ctx context.Context, id uuid.UUID) (results.Record, error) {
	if err := c.begin("cancel"); err != nil {
		return results.Record{}, err
	}
	defer c.calls.RUnlock()
	status, err := c.b.Cancel(ctx, id)
	if err != nil {
		return results.Record{}, fmt.Errorf("tasks: cancel: %w", unavailable(err))
	}
	switch status {
	case results.StatusCanceled:
		c.releaseUnique(ctx, id)
		rec, err := c.get(ctx, id)
		if err == nil && rec.Broadcast != nil {
			c.dropBroadcast(ctx, rec)
		}
		return rec, err
	case results.StatusRunning:
		return c.get(ctx, id)
	default:
		return results.Record{}, fmt.Errorf("tasks: cancel %s: %w (%s)", id, ErrFinished, status)
	}
}
