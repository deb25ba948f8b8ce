package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/runq/runq/api"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// The waiters scenario: N long polls GET /v1/tasks/{id}?wait=...
// parked at once on the API server, each on its own TCP connection, should
// cost the server under 100 MiB and a handful of Redis connections, and all
// wake with the right answer when their tasks finish.
const (
	// waitersWait is every poll's ?wait=: the API's cap, so that a poll
	// outlasts parking, measuring and finishing.
	waitersWait = api.DefaultMaxWait
	// parkLimit bounds the wait for every poll to park.
	parkLimit = 30 * time.Second
	// waitersConcurrency is the worker pool that finishes the tasks.
	waitersConcurrency = 50
	// clientDials is how many connections the client opens at once, well
	// under the listen backlog.
	clientDials = 128
)

// WaiterCost is what N parked long polls cost the API server. The HTTP
// clients run in a child process, so the memory figures are the server's
// process alone (which also holds the bench's idle state, and the Redis when
// it is the embedded one): each is the reading with every poll parked, after
// a full GC, less the same reading with the server idle.
type WaiterCost struct {
	Wait         string  `json:"wait"`                          // ?wait= of each poll
	ParkSeconds  float64 `json:"park_seconds"`                  // from the first poll sent to all parked
	HeapMiB      float64 `json:"heap_objects_mib"`              // runtime/metrics /memory/classes/heap/objects
	StacksMiB    float64 `json:"stacks_mib"`                    // /memory/classes/heap/stacks
	GoRuntimeMiB float64 `json:"go_runtime_mib"`                // /memory/classes/total less heap/released
	RSSMiB       float64 `json:"rss_mib,omitempty"`             // resident set size (Linux)
	Goroutines   int     `json:"goroutines"`                    // runtime.NumGoroutine
	RedisConns   int     `json:"redis_conns"`                   // the server's, by CLIENT LIST name, parked; -1 unknown
	RedisPubSub  int     `json:"redis_pubsub_conns"`            // of those, subscribed; -1 unknown
	RedisPeak    int     `json:"redis_conns_peak"`              // most the server's client held, sampled every 2ms
	ClientsDelta int     `json:"redis_connected_clients_delta"` // INFO clients: parked less before the server started
	Subscribers  int     `json:"done_channel_subscribers"`      // PUBSUB NUMSUB of the done channel, parked; -1 unknown
	PoolWaits    int     `json:"redis_pool_waits"`              // server commands that waited for a free connection
	PoolTimeouts int     `json:"redis_pool_timeouts"`           // and gave up
	ServerRTTs   float64 `json:"server_round_trips_per_waiter"` // the server's Redis round trips, park to last answer
	Answered     int     `json:"answered_right"`
}

// waitItem is the payload of a bench.wait task, and its result when it
// succeeds: the task's index among the waiters.
type waitItem struct {
	I int `json:"i"`
}

// wantStatus is how task i ends: every tenth fails, so that a waiter given
// another task's answer is caught.
func wantStatus(i int) results.Status {
	if i%10 == 9 {
		return results.StatusFailed
	}
	return results.StatusSucceeded
}

// waitRegistry handles bench.wait as wantStatus says, recording in done[i]
// the wall-clock time (UnixNano) at which task i's handler returned.
func waitRegistry(done []atomic.Int64) *tasks.Registry {
	reg := tasks.NewRegistry()
	tasks.Handle(reg, "bench.wait", func(ctx context.Context, t *tasks.Task, in waitItem) (waitItem, error) {
		if in.I < 0 || in.I >= len(done) {
			return waitItem{}, fmt.Errorf("index %d out of range: %w", in.I, tasks.ErrSkipRetry)
		}
		defer func() { done[in.I].Store(time.Now().UnixNano()) }() // at return, not now
		if wantStatus(in.I) == results.StatusFailed {
			return waitItem{}, fmt.Errorf("task %d fails on purpose: %w", in.I, tasks.ErrSkipRetry)
		}
		return in, nil
	})
	return reg
}

// waiters runs the waiters scenario with cfg.Waiters polls.
func (r *runner) waiters(ctx context.Context) error {
	row, err := r.waitersOnce(ctx, r.cfg.Waiters)
	if err != nil {
		return err
	}
	r.add(row)
	return nil
}

// waitersRun is the state of one run of the waiters scenario.
type waitersRun struct {
	r    *runner
	n    int
	s    *scope
	ids  []string
	done []atomic.Int64 // per task: when its handler returned
	srv  *apiServer
	kid  *child
	rtt0 int64 // the server's round trips before the polls
	fig  WaiterCost
}

// waitersOnce queues n tasks no worker runs yet, starts the API, parks n
// polls on it from a child process, measures, then runs a pool that
// finishes the tasks and times every poll's answer.
func (r *runner) waitersOnce(ctx context.Context, n int) (Row, error) {
	if err := raiseFileLimit(n + 1024); err != nil {
		return Row{}, err
	}
	w := &waitersRun{r: r, n: n, done: make([]atomic.Int64, n), fig: WaiterCost{Wait: waitersWait.String()}}
	s, err := r.newScope(ctx, waitRegistry(w.done))
	if err != nil {
		return Row{}, err
	}
	w.s = s
	defer r.cleanup(context.WithoutCancel(ctx), s)
	if w.ids, err = submitWaited(ctx, s.client, n); err != nil {
		return Row{}, err
	}
	before := connectedClients(ctx, r.rdb)
	if w.srv, err = startAPI(ctx, r.rdb, s.prefix, r.rtt); err != nil {
		return Row{}, err
	}
	defer w.srv.close()
	if err := w.srv.ready(w.ids[0]); err != nil {
		return Row{}, err
	}
	w.kid, err = startChild(ctx, childParams{URL: w.srv.url, Wait: waitersWait.String(), IDs: w.ids, Dials: clientDials})
	if err != nil {
		return Row{}, err
	}
	defer w.kid.kill()
	idle := sampleMemory()
	if err := w.park(ctx); err != nil {
		return Row{}, err
	}
	w.measureParked(ctx, idle, before)
	return w.wake(ctx)
}

// submitWaited queues n bench.wait tasks in batches and returns their IDs.
func submitWaited(ctx context.Context, c *tasks.Client, n int) ([]string, error) {
	ids := make([]string, 0, n)
	for len(ids) < n {
		batch := make([]tasks.Request, min(tasks.MaxBatch, n-len(ids)))
		for j := range batch {
			p, _ := json.Marshal(waitItem{I: len(ids) + j})
			batch[j] = tasks.Request{Name: "bench.wait", Payload: p}
		}
		recs, err := c.SubmitBatch(ctx, batch)
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			ids = append(ids, rec.ID.String())
		}
	}
	return ids, nil
}

// park lets the child poll and waits until every poll is parked in the
// server's watcher, then a further second for the server to settle.
func (w *waitersRun) park(ctx context.Context) error {
	w.rtt0 = w.srv.rtt.n.Load()
	start := time.Now()
	if err := w.kid.release(); err != nil {
		return fmt.Errorf("start the client: %w", err)
	}
	err := waitFor(ctx, parkLimit, func() bool {
		w.fig.RedisPeak = max(w.fig.RedisPeak, w.srv.conns())
		return w.srv.watcher.Waiting() >= w.n || w.kid.exited()
	})
	w.fig.ParkSeconds = time.Since(start).Seconds()
	if got := w.srv.watcher.Waiting(); got < w.n {
		return fmt.Errorf("%d of %d polls parked after %.1fs (%v); client: %s", got, w.n, w.fig.ParkSeconds, err, w.kid.why())
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Second):
	}
	if got := w.srv.watcher.Waiting(); got != w.n {
		return fmt.Errorf("%d of %d polls still parked a second later: some answered before their task finished", got, w.n)
	}
	return nil
}

// measureParked records the parked server's memory, goroutines and Redis
// connections against idle (memory) and before (INFO connected_clients
// before the server started).
func (w *waitersRun) measureParked(ctx context.Context, idle memSample, before int) {
	parked := sampleMemory()
	f := &w.fig
	f.HeapMiB = mib(idle.heap, parked.heap)
	f.StacksMiB = mib(idle.stacks, parked.stacks)
	f.GoRuntimeMiB = mib(idle.runtime, parked.runtime)
	if idle.rss > 0 && parked.rss > 0 {
		f.RSSMiB = mib(idle.rss, parked.rss)
	}
	f.Goroutines = parked.goroutines - idle.goroutines
	c := countClients(ctx, w.r.rdb, w.srv.name, w.s.prefix)
	f.RedisConns, f.RedisPubSub, f.Subscribers = c.named, c.subscribed, c.subscribers
	if before >= 0 && c.connected >= 0 {
		f.ClientsDelta = c.connected - before
	}
}

// wake runs a pool that finishes every task and waits for the child to
// report every answer.
func (w *waitersRun) wake(ctx context.Context) (Row, error) {
	pool := w.s.pool(w.r, tasks.PoolConfig{Concurrency: waitersConcurrency})
	c := startCost(ctx, w.r.rdb, w.r.rtt)
	start := time.Now()
	stop := runPool(ctx, pool)
	err := waitFor(ctx, waitersWait+45*time.Second, func() bool {
		w.fig.RedisPeak = max(w.fig.RedisPeak, w.srv.conns())
		return w.kid.exited()
	})
	c.stop(ctx)
	stop()
	if err != nil {
		return Row{}, fmt.Errorf("waiting for the %d answers: %w", w.n, err)
	}
	st := w.srv.rdb.PoolStats()
	w.fig.PoolWaits, w.fig.PoolTimeouts = int(st.WaitCount), int(st.Timeouts)
	w.fig.ServerRTTs = float64(w.srv.rtt.n.Load()-w.rtt0) / float64(w.n)
	answers, err := w.kid.answers(time.Second)
	if err != nil {
		return Row{}, err
	}
	return w.row(c, start, answers)
}

// row checks every answer and builds the scenario's row: p50-max are the
// delays from a task's handler returning to its poll's answer being read.
func (w *waitersRun) row(c *cost, start time.Time, answers []answer) (Row, error) {
	if len(answers) != w.n {
		return Row{}, fmt.Errorf("client reported %d answers, want %d", len(answers), w.n)
	}
	delays := make([]time.Duration, 0, w.n)
	last, wrong, first := start.UnixNano(), 0, ""
	for i, a := range answers {
		if why := w.wrong(i, a); why != "" {
			if wrong++; first == "" {
				first = fmt.Sprintf("poll %d (task %s): %s", i, w.ids[i], why)
			}
			continue
		}
		delays = append(delays, time.Duration(a.At-w.done[i].Load()))
		last = max(last, a.At)
	}
	w.fig.Answered = w.n - wrong
	if wrong > 0 {
		return Row{}, fmt.Errorf("%d of %d polls answered wrong; first, %s", wrong, w.n, first)
	}
	slices.Sort(delays)
	row := Row{Scenario: fmt.Sprintf("waiters, %d long polls", w.n), Tasks: w.n, Concurrency: waitersConcurrency,
		P50ms: percentileMs(delays, 0.50), P95ms: percentileMs(delays, 0.95), P99ms: percentileMs(delays, 0.99),
		MaxMs: percentileMs(delays, 1), Waiters: &w.fig}
	fill(&row, c)
	row.Seconds = time.Duration(last - start.UnixNano()).Seconds()
	row.TasksPerSec = float64(w.n) / row.Seconds
	return row, nil
}

// wrong says what is wrong with answer a to poll i, or "" when nothing is.
func (w *waitersRun) wrong(i int, a answer) string {
	want := wantStatus(i)
	switch {
	case a.Err != "":
		return a.Err
	case a.Code != http.StatusOK:
		return fmt.Sprintf("HTTP %d", a.Code)
	case results.Status(a.Status) != want && !results.Status(a.Status).Terminal():
		return fmt.Sprintf("status %q, want %q: the wait ended before the task finished", a.Status, want)
	case results.Status(a.Status) != want:
		return fmt.Sprintf("status %q, want %q", a.Status, want)
	case w.done[i].Load() == 0:
		return "answered, but its handler never returned"
	}
	if want == results.StatusSucceeded {
		var got waitItem
		if err := json.Unmarshal(a.Result, &got); err != nil || got.I != i {
			return fmt.Sprintf("result %s, want {\"i\":%d}", a.Result, i)
		}
	}
	return ""
}

// format renders c as the indented lines under its row in a table.
func (c *WaiterCost) format() string {
	known := func(n int) string {
		if n < 0 {
			return "?"
		}
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("  parked in %.1fs, wait %s; server process: heap objects %+.1f MiB, stacks %+.1f MiB, "+
		"Go runtime total %+.1f MiB, RSS %+.1f MiB, goroutines %+d\n"+
		"  redis: server connections %s (%s pub/sub), peak %d, connected_clients %+d, done-channel subscribers %s, "+
		"pool waits %d, timeouts %d; %.2f server round trips/poll; %d answered right",
		c.ParkSeconds, c.Wait, c.HeapMiB, c.StacksMiB, c.GoRuntimeMiB, c.RSSMiB, c.Goroutines,
		known(c.RedisConns), known(c.RedisPubSub), c.RedisPeak, c.ClientsDelta, known(c.Subscribers),
		c.PoolWaits, c.PoolTimeouts, c.ServerRTTs, c.Answered)
}
