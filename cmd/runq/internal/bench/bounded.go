package bench

import (
	"context"
	"errors"
	"fmt"

	"github.com/runq/runq/tasks"
)

// bounded measures what a bounded queue costs: the enqueue rows again on a
// queue with a max_length above the tasks submitted, so that nothing is
// refused and the difference to the enqueue rows is the check
// (enqueue.lua reads max_length, then the pending list's length and the
// room held for batches), and the refusals of a full queue, the work a
// storm of submissions costs when backpressure sends them away.
func (r *runner) bounded(ctx context.Context) error {
	n := r.cfg.Tasks
	for _, e := range []struct {
		scenario  string
		maxLength int
		submit    func(context.Context, *tasks.Client) error
	}{
		{"enqueue, 1 producer(s), bounded queue", n + 1, func(ctx context.Context, c *tasks.Client) error { return submitAll(ctx, c, "bench.noop", n, 1) }},
		{"enqueue, 16 producer(s), bounded queue", n + 1, func(ctx context.Context, c *tasks.Client) error { return submitAll(ctx, c, "bench.noop", n, 16) }},
		{"refused, 16 producer(s), full queue", 1, func(ctx context.Context, c *tasks.Client) error { return submitRefused(ctx, c, n, 16) }},
	} {
		prepare := func(ctx context.Context, c *tasks.Client) error { return fillToBound(ctx, c, e.maxLength) }
		if err := r.submitRow(ctx, e.scenario, prepare, e.submit); err != nil {
			return err
		}
	}
	return nil
}

// fillToBound sets the default queue's max_length; with a bound of 1 it
// also queues the one task that fills it.
func fillToBound(ctx context.Context, c *tasks.Client, maxLength int) error {
	if _, err := c.UpdateQueue(ctx, tasks.DefaultQueue, tasks.QueueUpdate{MaxLength: &maxLength}); err != nil {
		return err
	}
	if maxLength > 1 {
		return nil
	}
	_, err := c.Submit(ctx, tasks.Request{Name: "bench.noop", Payload: benchPayload})
	return err
}

// submitRefused submits n tasks from producers goroutines to a full
// queue, each of which must be refused.
func submitRefused(ctx context.Context, c *tasks.Client, n, producers int) error {
	return produce(n, producers, func(int) error {
		_, err := c.Submit(ctx, tasks.Request{Name: "bench.noop", Payload: benchPayload})
		if !errors.Is(err, tasks.ErrQueueFull) {
			return fmt.Errorf("a submission to a full queue returned %v, want ErrQueueFull", err)
		}
		return nil
	})
}
