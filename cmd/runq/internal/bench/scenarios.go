package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/runq/runq/tasks"
)

// benchPayload is small, like most task arguments.
var benchPayload = json.RawMessage(`{"user":12345,"op":"x"}`)

// noopRegistry handles bench.noop (stores null) and bench.result (stores a
// small object).
func noopRegistry() *tasks.Registry {
	reg := tasks.NewRegistry()
	reg.HandleFunc("bench.noop", func(ctx context.Context, t *tasks.Task) (any, error) { return nil, nil })
	reg.HandleFunc("bench.result", func(ctx context.Context, t *tasks.Task) (any, error) {
		return map[string]any{"ok": true, "attempt": t.Attempt}, nil
	})
	return reg
}

// submitAll submits n tasks named name from producers goroutines.
func submitAll(ctx context.Context, c *tasks.Client, name string, n, producers int) error {
	return submitEach(ctx, c, name, n, producers, func(int) json.RawMessage { return benchPayload })
}

// submitEach submits n tasks named name from producers goroutines, task i
// of producer p with payload(p*n+i): distinct for every task.
func submitEach(ctx context.Context, c *tasks.Client, name string, n, producers int, payload func(int) json.RawMessage) error {
	return produce(n, producers, func(i int) error {
		_, err := c.Submit(ctx, tasks.Request{Name: name, Payload: payload(i)})
		return err
	})
}

// produce calls submit n times from producers goroutines, with i =
// p*n+j for the j-th call of producer p, until a call fails; it returns a
// failure, if any.
func produce(n, producers int, submit func(i int) error) error {
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
			for j := range count {
				if err := submit(p*n + j); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// Names of the enqueue rows that the whole-life rows add up.
var (
	enqueue16Producers = "enqueue, 16 producer(s)"
	enqueueBatches     = fmt.Sprintf("enqueue, batches of %d", tasks.MaxBatch)
)

func (r *runner) enqueue(ctx context.Context) error {
	n := r.cfg.Tasks
	for _, e := range []struct {
		scenario string
		submit   func(context.Context, *tasks.Client) error
	}{
		{"enqueue, 1 producer(s)", func(ctx context.Context, c *tasks.Client) error { return submitAll(ctx, c, "bench.noop", n, 1) }},
		{enqueue16Producers, func(ctx context.Context, c *tasks.Client) error { return submitAll(ctx, c, "bench.noop", n, 16) }},
		{enqueueBatches, func(ctx context.Context, c *tasks.Client) error { return submitBatches(ctx, c, "bench.noop", n) }},
	} {
		if err := r.submitRow(ctx, e.scenario, nil, e.submit); err != nil {
			return err
		}
	}
	return nil
}

// submitRow measures and adds the row of scenario: Tasks tasks submitted by
// submit, on a scope of its own that prepare (if any) readies first,
// outside the measurement.
func (r *runner) submitRow(ctx context.Context, scenario string, prepare, submit func(context.Context, *tasks.Client) error) error {
	row, err := r.measure(func() (Row, error) {
		s, err := r.newScope(ctx, noopRegistry())
		if err != nil {
			return Row{}, err
		}
		if prepare != nil {
			if err := prepare(ctx, s.client); err != nil {
				return Row{}, err
			}
		}
		c := startCost(ctx, r.rdb, r.rtt)
		err = submit(ctx, s.client)
		c.stop(ctx)
		if err != nil {
			return Row{}, err
		}
		row := Row{Scenario: scenario, Tasks: r.cfg.Tasks, PayloadBytes: len(benchPayload)}
		fill(&row, c)
		return row, r.cleanup(ctx, s)
	})
	if err == nil {
		r.add(row)
	}
	return err
}

// submitBatches submits n tasks named name from one producer, in batches
// of tasks.MaxBatch, as a service using POST /v1/tasks/batch would.
func submitBatches(ctx context.Context, c *tasks.Client, name string, n int) error {
	return submitBatchesTo(ctx, c, name, "", n)
}

// submitBatchesTo is submitBatches to queue ("" for c's default).
func submitBatchesTo(ctx context.Context, c *tasks.Client, name, queue string, n int) error {
	batch := make([]tasks.Request, 0, tasks.MaxBatch)
	for n > 0 {
		batch = batch[:0]
		for range min(n, tasks.MaxBatch) {
			batch = append(batch, tasks.Request{Name: name, Payload: benchPayload, Options: tasks.Options{Queue: queue}})
		}
		if _, err := c.SubmitBatch(ctx, batch); err != nil {
			return err
		}
		n -= len(batch)
	}
	return nil
}

func (r *runner) drain(ctx context.Context) error {
	for _, name := range []string{"bench.noop", "bench.result"} {
		for _, conc := range []int{10, 50, 100} {
			row, err := r.measure(func() (Row, error) { return r.drainOnce(ctx, name, conc, 0) })
			if err != nil {
				return err
			}
			r.add(row)
		}
	}
	return nil
}

// drainPayloadSizes are the payload sizes of the drainsizes rows: the drain
// compared with asynq (concurrency 50, storing a result) at payloads as
// large as real task arguments, not only at benchPayload's 23 bytes.
var drainPayloadSizes = []int{64, 1024}

// drainSizes runs the drain at concurrency 50 storing a result once per
// drainPayloadSizes, with the memory rows' payloads: pseudo-random letters
// padded into JSON of exactly that size. From 512 bytes on the broker
// stores them deflated, so the larger row includes that cost.
func (r *runner) drainSizes(ctx context.Context) error {
	for _, size := range drainPayloadSizes {
		row, err := r.measure(func() (Row, error) { return r.drainOnce(ctx, "bench.result", 50, size) })
		if err != nil {
			return err
		}
		r.add(row)
	}
	return nil
}

// drainOnce queues Tasks tasks, then times one pool draining them. The
// tasks carry benchPayload when size is 0, else recordPayloads(size).
func (r *runner) drainOnce(ctx context.Context, name string, conc, size int) (Row, error) {
	s, err := r.newScope(ctx, noopRegistry())
	if err != nil {
		return Row{}, err
	}
	defer r.cleanup(context.WithoutCancel(ctx), s)
	payload := func(int) json.RawMessage { return benchPayload }
	if size > 0 {
		payload = recordPayloads(size)
	}
	if err := submitEach(ctx, s.client, name, r.cfg.Tasks, 16, payload); err != nil {
		return Row{}, err
	}
	pool := s.pool(r, tasks.PoolConfig{Concurrency: conc})
	c := startCost(ctx, r.rdb, r.rtt)
	stop := runPool(ctx, pool)
	err = waitFor(ctx, 10*time.Minute, func() bool { return pool.Stats().Succeeded >= int64(r.cfg.Tasks) })
	c.stop(ctx)
	stop()
	if err != nil {
		return Row{}, fmt.Errorf("drain %s at concurrency %d: %w (%+v)", name, conc, err, pool.Stats())
	}
	row := Row{Scenario: drainScenario(name, conc, size), Tasks: r.cfg.Tasks, Concurrency: conc,
		PayloadBytes: size, StoresResults: name == "bench.result"}
	fill(&row, c)
	return row, nil
}

// drainScenario names a drain row; size 0 is the small benchPayload,
// which the name leaves out.
func drainScenario(name string, conc, size int) string {
	what := "no-op"
	if name == "bench.result" {
		what = "stores result"
	}
	scenario := fmt.Sprintf("drain, %s, conc %d", what, conc)
	if size > 0 {
		scenario += fmt.Sprintf(", %d B payload", size)
	}
	return scenario
}

// runPool runs pool until the returned stop is called.
func runPool(ctx context.Context, pool *tasks.Pool) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = pool.Run(ctx) }()
	return func() { cancel(); <-done }
}

// waitFor polls cond every 2ms until it holds or limit passes. The bench
// harness polls its own in-process counters; runq itself never polls Redis.
func waitFor(ctx context.Context, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// latency submits at a steady rate to an idle pool and records, for every
// task, the time from just before its submission to its handler starting.
func (r *runner) latency(ctx context.Context) error {
	for _, rate := range r.cfg.Rates {
		row, err := r.measure(func() (Row, error) { return r.latencyOnce(ctx, rate) })
		if err != nil {
			return err
		}
		r.add(row)
	}
	return nil
}

type stamp struct {
	T int64 `json:"t"` // UnixNano just before Submit
}

func (r *runner) latencyOnce(ctx context.Context, rate int) (Row, error) {
	var mu sync.Mutex
	lat := make([]time.Duration, 0, rate*int(r.cfg.RateFor/time.Second+1))
	reg := tasks.NewRegistry()
	tasks.Handle(reg, "bench.latency", func(ctx context.Context, t *tasks.Task, in stamp) (any, error) {
		d := time.Since(time.Unix(0, in.T))
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
		return nil, nil
	})
	s, err := r.newScope(ctx, reg)
	if err != nil {
		return Row{}, err
	}
	defer r.cleanup(context.WithoutCancel(ctx), s)
	pool := s.pool(r, tasks.PoolConfig{Concurrency: 50})
	stop := runPool(ctx, pool)
	defer stop()
	time.Sleep(200 * time.Millisecond) // let the pool reach its blocking wait

	total := int(float64(rate) * r.cfg.RateFor.Seconds())
	work := make(chan struct{}, total)
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				p, _ := json.Marshal(stamp{T: time.Now().UnixNano()})
				if _, err := s.client.Submit(ctx, tasks.Request{Name: "bench.latency", Payload: p}); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		}()
	}
	c := startCost(ctx, r.rdb, r.rtt)
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range total {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	err = waitFor(ctx, time.Minute, func() bool { mu.Lock(); defer mu.Unlock(); return len(lat) >= total })
	c.stop(ctx)
	close(errs)
	if e := <-errs; e != nil {
		return Row{}, e
	}
	if err != nil {
		return Row{}, fmt.Errorf("latency at %d/s: %w", rate, err)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	row := Row{Scenario: fmt.Sprintf("latency at %d/s, conc 50", rate), Tasks: total, TargetRate: rate,
		P50ms: percentileMs(lat, 0.50), P95ms: percentileMs(lat, 0.95), P99ms: percentileMs(lat, 0.99), MaxMs: percentileMs(lat, 1)}
	fill(&row, c)
	return row, nil
}
