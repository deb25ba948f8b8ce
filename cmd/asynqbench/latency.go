package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hibiken/asynq"
)

// latencyRow is the delay from the enqueue call to the handler's start at a
// fixed rate, plus what the server costs Redis while idle.
type latencyRow struct {
	Settings        string  `json:"settings"`
	Tasks           int     `json:"tasks"`
	Rate            float64 `json:"achieved_rate_per_sec"`
	P50             float64 `json:"p50_ms"`
	P95             float64 `json:"p95_ms"`
	P99             float64 `json:"p99_ms"`
	Max             float64 `json:"max_ms"`
	IdleCommandsSec float64 `json:"idle_redis_commands_per_sec"`
	IdleCPUPercent  float64 `json:"idle_redis_cpu_percent"`
	Foreign         foreign `json:"foreign_traffic"`
}

// recorder collects enqueue-to-start delays; payloads carry the enqueue
// instant as nanoseconds since origin (19 digits plus one byte: 20 bytes).
type recorder struct {
	origin time.Time
	want   int
	mu     sync.Mutex
	delays []time.Duration
	done   chan struct{}
}

func (r *recorder) ProcessTask(_ context.Context, t *asynq.Task) error {
	start := time.Since(r.origin)
	sent, err := strconv.ParseInt(string(t.Payload()[:19]), 10, 64)
	if err != nil {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delays = append(r.delays, start-time.Duration(sent))
	if len(r.delays) == r.want {
		close(r.done)
	}
	return nil
}

// latency runs one asynq server with cfg, measures its idle Redis load for
// two seconds, then enqueues at --rate for --latency-duration from one
// producer paced by the clock and waits for every task to start.
func (b *bench) latency(ctx context.Context, settings string, cfg asynq.Config) (latencyRow, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.latencyDuration+time.Minute)
	defer cancel()
	tc := &tripCounter{}
	rc := b.newClient(tc)
	defer rc.Close()
	want := int(float64(b.cfg.rate) * b.cfg.latencyDuration.Seconds())
	rec := &recorder{origin: time.Now(), want: want, done: make(chan struct{})}
	cfg.LogLevel = asynq.WarnLevel
	srv := asynq.NewServerFromRedisClient(rc, cfg)
	if err := srv.Start(rec); err != nil {
		return latencyRow{}, fmt.Errorf("start asynq server: %w", err)
	}
	defer srv.Shutdown()
	row := latencyRow{Settings: settings, Tasks: want}
	idle, err := b.idle(ctx, func(ctx context.Context) (snapshot, error) { return b.snapshot(ctx, tc) })
	if err != nil {
		return row, err
	}
	row.IdleCommandsSec, row.IdleCPUPercent = idle.commandsSec, idle.cpuPercent
	before := idle.first
	elapsed, err := b.paced(ctx, asynq.NewClientFromRedisClient(rc), rec.origin, want)
	if err != nil {
		return row, err
	}
	row.Rate = float64(want) / elapsed.Seconds()
	select {
	case <-rec.done:
	case <-ctx.Done():
		return row, fmt.Errorf("latency: tasks not all started: %w", ctx.Err())
	}
	c, err := b.measured(ctx, before, tc, 0)
	row.Foreign = c.foreign
	rec.mu.Lock()
	defer rec.mu.Unlock()
	row.P50, row.P95, row.P99, row.Max = percentiles(rec.delays)
	return row, err
}

// idleLoad is what an idle server costs Redis, between two snapshots.
type idleLoad struct {
	first, last snapshot
	commandsSec float64 // Redis commands/s, scripts' inner commands included
	cpuPercent  float64 // Redis CPU, % of one CPU

	workerCPUPercent float64 // the worker process's CPU, % of one CPU; 0 without one
}

// idle lets a started server settle for half a second, then measures Redis
// commands/s and CPU over two seconds while it waits for work; snap takes
// the snapshots.
func (b *bench) idle(ctx context.Context, snap func(context.Context) (snapshot, error)) (idleLoad, error) {
	if err := wait(ctx, 500*time.Millisecond); err != nil {
		return idleLoad{}, err
	}
	first, err := snap(ctx)
	if err != nil {
		return idleLoad{}, err
	}
	if err := wait(ctx, 2*time.Second); err != nil {
		return idleLoad{}, err
	}
	last, err := snap(ctx)
	if err != nil {
		return idleLoad{}, err
	}
	c := diff(first, last, 0)
	percent := func(d time.Duration) float64 { return 100 * d.Seconds() / c.elapsed.Seconds() }
	return idleLoad{first: first, last: last, commandsSec: float64(c.calls) / c.elapsed.Seconds(),
		cpuPercent: percent(c.redisCPU), workerCPUPercent: percent(c.childCPU)}, nil
}

// paced enqueues want tasks, task i due at i/rate after the start; a late
// producer catches up rather than skipping, and delays are measured from
// the actual enqueue call, so a slow enqueue shows in the latency.
func (b *bench) paced(ctx context.Context, client *asynq.Client, origin time.Time, want int) (time.Duration, error) {
	period := time.Second / time.Duration(b.cfg.rate)
	start := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for i := range want {
		t.Reset(time.Until(start.Add(time.Duration(i) * period)))
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-t.C:
		}
		p := []byte(fmt.Sprintf("%019dx", time.Since(origin)))
		if _, err := client.EnqueueContext(ctx, asynq.NewTask(taskType, p)); err != nil {
			return 0, fmt.Errorf("enqueue: %w", err)
		}
	}
	return time.Since(start), nil
}

// percentiles returns p50, p95, p99 and max of d in milliseconds (nearest rank).
func percentiles(d []time.Duration) (p50, p95, p99, maxMS float64) {
	slices.Sort(d)
	at := func(q float64) float64 {
		i := int(q*float64(len(d))+0.999999) - 1
		return float64(d[max(i, 0)]) / float64(time.Millisecond)
	}
	return at(0.50), at(0.95), at(0.99), at(1)
}

// wait blocks for d or until ctx ends.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	return nil
}
