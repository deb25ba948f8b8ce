package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runq/runq/api/client"
	"github.com/runq/runq/tasks"
)

// The steady rows: tasks arrive at a fixed rate, one per submission, from
// this process, to a worker in a child process; each row costs a task's
// whole life at that rate, and times its wait from submission to start.
const (
	steadyProducers    = 8  // goroutines submitting, on one shared schedule
	steadyConcurrency  = 50 // the worker child's handlers
	steadyPayloadBytes = 64
	steadyIdle         = 2 * time.Second // the idle worker's cost is measured over this
	pathGo             = "Go client"     // tasks.Client in this process
	pathHTTP           = "HTTP"          // api/client to a `runq serve` child
)

// SteadyCost is what a steady row tells beyond its columns.
type SteadyCost struct {
	Path          string  `json:"submit_path"`    // "Go client" or "HTTP"
	Producers     int     `json:"producers"`      // goroutines submitting one task per call
	SubmitSeconds float64 `json:"submit_seconds"` // from the first submission to the last one's return
	// IdleCommandsPerSec and IdleRedisCPU are what the worker child cost
	// Redis, in commands/s and % of one CPU, idle over 2s before the row.
	IdleCommandsPerSec float64 `json:"idle_redis_commands_per_sec"`
	IdleRedisCPU       float64 `json:"idle_redis_cpu_percent"`
}

// steady measures every rate of cfg.SteadyRates, submitting through each
// path.
func (r *runner) steady(ctx context.Context) error {
	if r.cfg.RedisURL == "" {
		fmt.Fprintln(r.cfg.Progress, "(steady rows skipped: no Redis URL for their child processes)")
		return nil
	}
	for _, rate := range r.cfg.SteadyRates {
		for _, path := range []string{pathGo, pathHTTP, pathFloor} {
			row, err := r.measure(func() (Row, error) {
				if path == pathFloor {
					return r.floorOnce(ctx, rate)
				}
				return r.steadyOnce(ctx, rate, path)
			})
			if err != nil {
				return fmt.Errorf("steady %d/s, %s: %w", rate, path, err)
			}
			r.add(row)
		}
	}
	return nil
}

// steadyTasks is how many tasks a row submits at rate for d: at least one.
func steadyTasks(rate int, d time.Duration) int {
	return max(1, int(float64(rate)*d.Seconds()))
}

// steadyOnce measures one row: it starts the worker child, measures it
// idle, starts the API child for HTTP, then submits on schedule and waits
// until the worker has stored every result. The row's window runs from
// the first submission to the last task succeeded.
func (r *runner) steadyOnce(ctx context.Context, rate int, path string) (Row, error) {
	n := steadyTasks(rate, r.cfg.SteadyFor)
	s, err := r.newScope(ctx, steadyRegistry(nil))
	if err != nil {
		return Row{}, err
	}
	defer r.cleanup(context.WithoutCancel(ctx), s)
	w, err := startWorker(ctx, workerParams{URL: r.cfg.RedisURL, Prefix: s.prefix, Concurrency: steadyConcurrency, Tasks: int64(n),
		BatchWait: r.cfg.SteadyBatchWait})
	if err != nil {
		return Row{}, err
	}
	defer w.proc.kill()
	fig := &SteadyCost{Path: path, Producers: steadyProducers}
	if err := r.idleCost(ctx, fig); err != nil {
		return Row{}, err
	}
	submit, pids, stop, err := r.submitter(ctx, s, path)
	if err != nil {
		return Row{}, err
	}
	defer stop()
	pids = append([]int{w.pid()}, pids...)
	c := startCost(ctx, r.rdb, r.rtt, pids...)
	submitted, err := paced(ctx, submit, n, rate, c.start)
	if err == nil {
		_, err = w.next(ctx, r.cfg.SteadyFor+time.Minute, func(e workerEvent) bool { return e.Succeeded >= int64(n) })
	}
	c.stop(ctx)
	if err != nil {
		return Row{}, err
	}
	fig.SubmitSeconds = submitted.Sub(c.start).Seconds()
	sum, err := w.finish(ctx)
	if err != nil {
		return Row{}, err
	}
	row, err := steadyRow(rate, n, c, sum, fig)
	if r.cfg.SteadyBatchWait > 0 {
		row.Scenario += fmt.Sprintf(", batch wait %v", r.cfg.SteadyBatchWait)
	}
	return row, err
}

// idleCost measures what the idle worker costs Redis over steadyIdle.
func (r *runner) idleCost(ctx context.Context, fig *SteadyCost) error {
	s0 := sampleServer(ctx, r.rdb)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(steadyIdle):
	}
	s1 := sampleServer(ctx, r.rdb)
	if s0.ok && s1.ok {
		fig.IdleCommandsPerSec = float64(s1.commands-s0.commands-1) / steadyIdle.Seconds() // less the INFO
		fig.IdleRedisCPU = 100 * (s1.cpu - s0.cpu).Seconds() / steadyIdle.Seconds()
	}
	return nil
}

// submitFunc submits one task with payload p.
type submitFunc func(ctx context.Context, p json.RawMessage) error

// submitter returns how path submits under s, the child processes that
// serve it (none for the Go client), and what stops them.
func (r *runner) submitter(ctx context.Context, s *scope, path string) (submitFunc, []int, func(), error) {
	if path == pathGo {
		return func(ctx context.Context, p json.RawMessage) error {
			_, err := s.client.Submit(ctx, tasks.Request{Name: steadyName, Payload: p})
			return err
		}, nil, func() {}, nil
	}
	srv, err := startServe(ctx, r.cfg.RedisURL, s.prefix)
	if err != nil {
		return nil, nil, nil, err
	}
	submit, stop, err := httpSubmitter(srv)
	if err != nil {
		return nil, nil, nil, err
	}
	return submit, []int{srv.pid()}, stop, nil
}

// httpSubmitter submits through runq's HTTP client (api/client) to srv,
// on up to twice steadyProducers kept-alive connections; stop closes them
// and stops srv.
func httpSubmitter(srv *serveChild) (submitFunc, func(), error) {
	tr := &http.Transport{MaxIdleConns: 2 * steadyProducers, MaxIdleConnsPerHost: 2 * steadyProducers}
	api, err := client.New(srv.url, client.Config{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		srv.stop()
		return nil, nil, err
	}
	stop := func() { tr.CloseIdleConnections(); srv.stop() }
	return func(ctx context.Context, p json.RawMessage) error {
		_, err := api.Submit(ctx, tasks.Request{Name: steadyName, Payload: p})
		return err
	}, stop, nil
}

// paced submits n tasks from steadyProducers goroutines on one schedule:
// task i is due at start + i/rate; a goroutine takes the next slot, sleeps
// until it is due, stamps the payload with the time and submits (at once
// when the slot is past: a late row catches up). It returns when the last
// submission has returned, and the first error stops every goroutine.
func paced(ctx context.Context, submit submitFunc, n, rate int, start time.Time) (time.Time, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range steadyProducers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				due := start.Add(time.Duration(i * int64(time.Second) / int64(rate)))
				if err := sleepUntil(ctx, due); err != nil {
					return
				}
				if err := submit(ctx, stampPayload(time.Now())); err != nil {
					cancel(fmt.Errorf("submit task %d: %w", i, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Now(), context.Cause(ctx)
}

// sleepUntil waits for t, or for ctx to end.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// stampPayload is the steady rows' payload: exactly steadyPayloadBytes of
// JSON, {"t":<UnixNano of now>,"p":"xx..."}, padded by "p".
func stampPayload(now time.Time) json.RawMessage {
	p := make([]byte, 0, steadyPayloadBytes)
	p = append(p, `{"t":`...)
	p = strconv.AppendInt(p, now.UnixNano(), 10)
	p = append(p, `,"p":"`...)
	for len(p) < steadyPayloadBytes-2 {
		p = append(p, 'x')
	}
	return append(p, `"}`...)
}

// steadyRow builds a steady row from the window's cost c and the worker's
// delays. Its throughput is the achieved arrival rate: the tasks over the
// time from the first submission to the last one's return.
func steadyRow(rate, n int, c *cost, sum *delaySummary, fig *SteadyCost) (Row, error) {
	if sum.Count < n {
		return Row{}, fmt.Errorf("the worker saw %d tasks start, fewer than the %d that succeeded", sum.Count, n)
	}
	row := Row{Scenario: fmt.Sprintf("steady %d/s, %s", rate, fig.Path), Tasks: n, Concurrency: steadyConcurrency,
		TargetRate: rate, StoresResults: true, PayloadBytes: steadyPayloadBytes,
		P50ms: sum.P50ms, P95ms: sum.P95ms, P99ms: sum.P99ms, MaxMs: sum.MaxMs, Steady: fig}
	fill(&row, c)
	perTask := func(d time.Duration) float64 { return float64(max(d, 0).Microseconds()) / float64(n) }
	row.ClientCPUus = perTask(c.ownCPU)
	row.WorkerCPUus = perTask(c.childCPU[0]) // 0 where /proc cannot tell
	if fig.Path == pathHTTP {
		row.APICPUus = perTask(c.childCPU[1])
	}
	if fig.SubmitSeconds > 0 {
		row.TasksPerSec = float64(n) / fig.SubmitSeconds
	}
	return row, nil
}
