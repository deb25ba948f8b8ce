package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/runq/runq/tasks"
)

// dueStamp is the payload of a delayed row's task: its run_at, in ms.
type dueStamp struct {
	At int64 `json:"at"`
}

// delayed measures how late tasks held back start: DueTasks tasks, with
// run_at spread evenly over DueOver, submitted in batches before the first
// falls due, to one pool and then to four pools racing to promote them.
// Each task's lateness is its handler's start less its run_at.
func (r *runner) delayed(ctx context.Context) error {
	for _, pools := range []int{1, 4} {
		row, err := r.measure(func() (Row, error) { return r.delayedOnce(ctx, pools) })
		if err != nil {
			return err
		}
		r.add(row)
	}
	return nil
}

func (r *runner) delayedOnce(ctx context.Context, pools int) (Row, error) {
	n := r.cfg.DueTasks
	late := &delays{want: int64(n), got: make(chan struct{})}
	reg := tasks.NewRegistry()
	tasks.Handle(reg, "bench.due", func(ctx context.Context, t *tasks.Task, in dueStamp) (any, error) {
		late.record(time.Since(time.UnixMilli(in.At)))
		return nil, nil
	})
	s, err := r.newScope(ctx, reg)
	if err != nil {
		return Row{}, err
	}
	defer r.cleanup(context.WithoutCancel(ctx), s)
	for range pools {
		stop := runPool(ctx, s.pool(r, tasks.PoolConfig{Concurrency: 50}))
		defer stop()
	}
	time.Sleep(200 * time.Millisecond) // let the pools reach their blocking waits

	c := startCost(ctx, r.rdb, r.rtt)
	first := time.Now().Add(time.Second) // the submission takes well under a second
	if err := submitDue(ctx, s.client, n, first, r.cfg.DueOver); err != nil {
		return Row{}, err
	}
	select {
	case <-late.got:
	case <-time.After(time.Until(first) + r.cfg.DueOver + time.Minute):
		return Row{}, fmt.Errorf("delayed, %d pools: %d of %d tasks ran", pools, late.n.Load(), n)
	case <-ctx.Done():
		return Row{}, ctx.Err()
	}
	c.stop(ctx)
	sum := late.summary()
	row := Row{Scenario: fmt.Sprintf("due -> start, %d over %s, %d pool(s)", n, r.cfg.DueOver, pools), Tasks: n,
		Concurrency: 50, P50ms: sum.P50ms, P95ms: sum.P95ms, P99ms: sum.P99ms, MaxMs: sum.MaxMs}
	fill(&row, c)
	return row, nil
}

// submitDue submits n bench.due tasks in batches, task i with run_at
// first + i*over/n (to the millisecond), carrying that time.
func submitDue(ctx context.Context, c *tasks.Client, n int, first time.Time, over time.Duration) error {
	batch := make([]tasks.Request, 0, tasks.MaxBatch)
	for i := 0; i < n; {
		batch = batch[:0]
		for ; i < n && len(batch) < tasks.MaxBatch; i++ {
			at := first.Add(time.Duration(i) * over / time.Duration(n)).Truncate(time.Millisecond)
			p, _ := json.Marshal(dueStamp{At: at.UnixMilli()})
			batch = append(batch, tasks.Request{Name: "bench.due", Payload: p, Options: tasks.Options{RunAt: at}})
		}
		if _, err := c.SubmitBatch(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}
