package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"

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
		row, err := r.measure(func() (Row, error) {
			s, err := r.newScope(ctx, noopRegistry())
			if err != nil {
				return Row{}, err
			}
			if err := fillToBound(ctx, s.client, e.maxLength); err != nil {
				return Row{}, err
			}
			c := startCost(ctx, r.rdb, r.rtt)
			err = e.submit(ctx, s.client)
			c.stop(ctx)
			if err != nil {
				return Row{}, err
			}
			row := Row{Scenario: e.scenario, Tasks: n, PayloadBytes: len(benchPayload)}
			fill(&row, c)
			return row, r.cleanup(ctx, s)
		})
		if err != nil {
			return err
		}
		r.add(row)
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
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := range producers {
		count := n / producers
		if p < n%producers {
			count++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range count {
				_, err := c.Submit(ctx, tasks.Request{Name: "bench.noop", Payload: benchPayload})
				if !errors.Is(err, tasks.ErrQueueFull) {
					errs <- fmt.Errorf("a submission to a full queue returned %v, want ErrQueueFull", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
