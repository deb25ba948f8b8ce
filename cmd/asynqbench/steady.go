package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
)

const (
	steadyProducers    = 8  // goroutines submitting on the shared schedule
	steadyConcurrency  = 50 // asynq Concurrency of the worker process
	steadyPayloadBytes = 64 // the stamp padded with 'x'
	steadyFastCheck    = 10 * time.Millisecond
)

// steadyCase is one steady row: an arrival rate and asynq's
// TaskCheckInterval (0 leaves asynq's default, 1 s).
type steadyCase struct {
	rate  int
	check time.Duration
}

func (s steadyCase) checkName() string {
	if s.check == 0 {
		return "1s"
	}
	return s.check.String()
}

func (s steadyCase) name() string { return fmt.Sprintf("steady %d/s, check %s", s.rate, s.checkName()) }

// steadyRow is the cost per task of a server fed at a steady rate, measured
// from the first submission until asynq has completed the last task.
type steadyRow struct {
	Phase           string  `json:"phase"`
	Rate            int     `json:"rate_per_sec"`
	CheckInterval   string  `json:"task_check_interval"`
	Tasks           int     `json:"tasks"`
	SentRate        float64 `json:"achieved_rate_per_sec"` // tasks / (first submission to last enqueue's return)
	Seconds         float64 `json:"window_seconds"`        // first submission to last completion
	ProducerCPU     float64 `json:"producer_cpu_us_per_task"`
	WorkerCPU       float64 `json:"worker_cpu_us_per_task"`
	RedisCPU        float64 `json:"redis_cpu_us_per_task"`
	Commands        float64 `json:"redis_commands_per_task"`
	Reads           float64 `json:"redis_reads_per_task"`
	P50             float64 `json:"p50_ms"`
	P95             float64 `json:"p95_ms"`
	P99             float64 `json:"p99_ms"`
	Max             float64 `json:"max_ms"`
	IdleCommandsSec float64 `json:"idle_redis_commands_per_sec"`
	IdleCPUPercent  float64 `json:"idle_redis_cpu_percent"`
	IdleWorkerCPU   float64 `json:"idle_worker_cpu_percent"` // the worker process, % of one CPU
	Foreign         foreign `json:"foreign_traffic"`
}

// steadies measures every --steady-rates rate with a 10 ms
// TaskCheckInterval and with asynq's default.
func (b *bench) steadies(ctx context.Context, rep *report) error {
	for _, rate := range b.cfg.steadyRates {
		for _, check := range []time.Duration{steadyFastCheck, 0} {
			sc := steadyCase{rate, check}
			var row steadyRow
			err := b.untilClean(ctx, sc.name(), func(ctx context.Context) (foreign, error) {
				var err error
				row, err = b.steady(ctx, sc)
				return row.Foreign, err
			})
			if err != nil {
				return err
			}
			rep.Steady = append(rep.Steady, row)
		}
	}
	return nil
}

// steady starts a worker process, measures its idle Redis load, then submits
// rate × --steady-for tasks on one schedule and measures from the first
// submission until asynq has completed the last task.
func (b *bench) steady(ctx context.Context, sc steadyCase) (steadyRow, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.steadyFor+time.Minute)
	defer cancel()
	want := int(float64(sc.rate) * b.cfg.steadyFor.Seconds())
	origin := time.Now().UnixNano()
	w, err := startWorker(ctx, workerConfig{RedisURL: b.cfg.redisURL, Concurrency: steadyConcurrency,
		CheckInterval: sc.check, Origin: origin, Tasks: want}, b.log)
	if err != nil {
		return steadyRow{}, err
	}
	defer w.close()
	tc := &tripCounter{}
	rc := b.newClient(tc)
	defer rc.Close()
	snap := func(ctx context.Context) (snapshot, error) { return b.steadySnapshot(ctx, tc, w) }
	idle, err := b.idle(ctx, snap)
	if err != nil {
		return steadyRow{}, err
	}
	sent, err := submitSteady(ctx, asynq.NewClientFromRedisClient(rc), origin, sc.rate, want)
	if err != nil {
		return steadyRow{}, err
	}
	c, err := b.steadyEnd(ctx, w, idle.last, want, snap)
	if err != nil {
		return steadyRow{}, err
	}
	sum, err := w.finish()
	if err == nil && sum.Count != want {
		err = fmt.Errorf("worker started %d tasks, want %d", sum.Count, want)
	}
	return newSteadyRow(sc, want, sent, c, idle, sum), err
}

// steadyEnd waits until the worker's handler has started every task (the
// worker answers then, no Redis traffic), then until asynq counts them all
// processed, and returns the cost since before less those completion polls.
func (b *bench) steadyEnd(ctx context.Context, w *worker, before snapshot, want int,
	snap func(context.Context) (snapshot, error)) (cost, error) {
	if err := w.waitStarted(); err != nil {
		return cost{}, errors.Join(fmt.Errorf("tasks not all started: %w", ctx.Err()), err)
	}
	polls, err := b.waitProcessed(ctx, want)
	if err != nil {
		return cost{}, err
	}
	after, err := snap(ctx)
	if err != nil {
		return cost{}, err
	}
	return b.measuredTo(ctx, before, after, polls)
}

// steadySnapshot is a snapshot that also covers the worker process: its CPU,
// and its script calls and dials, done before the INFO and started after it,
// as the span counters bracket this process's own.
func (b *bench) steadySnapshot(ctx context.Context, tc *tripCounter, w *worker) (snapshot, error) {
	pre, err := w.stats()
	if err != nil {
		return snapshot{}, err
	}
	s, err := b.snapshot(ctx, tc)
	if err != nil {
		return s, err
	}
	post, err := w.stats()
	if err != nil {
		return s, err
	}
	s.scriptsDone += pre.ScriptsDone
	s.scriptsStarted += post.ScriptsStarted
	s.dialsDone += pre.DialsDone
	s.dialsStarted += post.DialsStarted
	s.childCPU = time.Duration(pre.CPU)
	return s, nil
}

// submitSteady sends want tasks from steadyProducers goroutines on one
// shared schedule: task i is due at start + i/rate; a goroutine takes the
// next slot, sleeps until it is due, stamps the payload and enqueues, one
// task per call. A late slot is sent at once, not skipped, so a slow enqueue
// shows in the delays. It returns the time from start to the last return.
func submitSteady(ctx context.Context, client *asynq.Client, origin int64, rate, want int) (time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	start := time.Now()
	err := parallel(steadyProducers, func(int) error {
		for i := next.Add(1) - 1; i < int64(want); i = next.Add(1) - 1 {
			due := start.Add(time.Duration(i * int64(time.Second) / int64(rate)))
			if err := wait(ctx, time.Until(due)); err != nil {
				return err
			}
			t := asynq.NewTask(taskType, steadyPayload(time.Now().UnixNano()-origin))
			if _, err := client.EnqueueContext(ctx, t, asynq.Retention(retention)); err != nil {
				cancel()
				return fmt.Errorf("enqueue: %w", err)
			}
		}
		return nil
	})
	return time.Since(start), err
}

// steadyPayload is the stamp, 19 digits of nanoseconds since the origin (as
// recorder reads it), padded with 'x' to steadyPayloadBytes.
func steadyPayload(stamp int64) []byte {
	p := bytes.Repeat([]byte{'x'}, steadyPayloadBytes)
	copy(p, fmt.Sprintf("%019d", stamp))
	return p
}

// newSteadyRow turns the cost of n tasks into per-task figures.
func newSteadyRow(sc steadyCase, n int, sent time.Duration, c cost, idle idleLoad, s workerSummary) steadyRow {
	f := float64(n)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) / f }
	return steadyRow{
		Phase: sc.name(), Rate: sc.rate, CheckInterval: sc.checkName(), Tasks: n,
		SentRate: f / sent.Seconds(), Seconds: c.elapsed.Seconds(),
		ProducerCPU: us(c.procCPU), WorkerCPU: us(c.childCPU), RedisCPU: us(c.redisCPU),
		Commands: float64(c.calls) / f, Reads: float64(c.reads) / f,
		P50: s.P50, P95: s.P95, P99: s.P99, Max: s.Max,
		IdleCommandsSec: idle.commandsSec, IdleCPUPercent: idle.cpuPercent, IdleWorkerCPU: idle.workerCPUPercent,
		Foreign: c.foreign,
	}
}
