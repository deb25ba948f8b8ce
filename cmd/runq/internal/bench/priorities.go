package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/runq/runq/tasks"
)

// priorityQueues are the queues of the priorities rows, by weight of the
// weighted row.
var priorityQueues = []struct {
	name   string
	weight int
}{{"critical", 6}, {"default", 3}, {"low", 1}}

// priorities drains Tasks no-op tasks queued evenly in three queues with
// one pool of concurrency 50, in strict order and then weighted 6:3:1.
// Both claim with the same scripts; they differ in the takes that find a
// queue empty (strict order tries critical first at every claim, also
// once it is drained).
func (r *runner) priorities(ctx context.Context) error {
	for _, weighted := range []bool{false, true} {
		row, err := r.measure(func() (Row, error) { return r.prioritiesOnce(ctx, weighted) })
		if err != nil {
			return err
		}
		r.add(row)
	}
	return nil
}

func (r *runner) prioritiesOnce(ctx context.Context, weighted bool) (Row, error) {
	s, err := r.newScope(ctx, noopRegistry())
	if err != nil {
		return Row{}, err
	}
	defer r.cleanup(context.WithoutCancel(ctx), s)
	cfg := tasks.PoolConfig{Concurrency: 50}
	scenario := "drain, 3 queues in strict order, conc 50"
	if weighted {
		cfg.Weights = make(map[string]int)
		scenario = "drain, 3 queues weighted 6:3:1, conc 50"
	}
	n := r.cfg.Tasks / len(priorityQueues)
	for _, q := range priorityQueues {
		cfg.Queues = append(cfg.Queues, q.name)
		if weighted {
			cfg.Weights[q.name] = q.weight
		}
		if err := submitBatchesTo(ctx, s.client, "bench.noop", q.name, n); err != nil {
			return Row{}, err
		}
	}
	total := n * len(priorityQueues)
	pool := s.pool(r, cfg)
	c := startCost(ctx, r.rdb, r.rtt)
	stop := runPool(ctx, pool)
	err = waitFor(ctx, 10*time.Minute, func() bool { return pool.Stats().Succeeded >= int64(total) })
	c.stop(ctx)
	stop()
	if err != nil {
		return Row{}, fmt.Errorf("%s: %w (%+v)", scenario, err, pool.Stats())
	}
	row := Row{Scenario: scenario, Tasks: total, Concurrency: 50, PayloadBytes: len(benchPayload)}
	fill(&row, c)
	return row, nil
}
