package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/cmd/internal/cli"
	"github.com/runq/runq/tasks"
)

// workerParams is what the bench sends its steady worker child, as the
// first JSON value on its stdin; the end of stdin tells it to stop.
type workerParams struct {
	URL         string `json:"url"`    // the Redis
	Prefix      string `json:"prefix"` // the row's private key prefix
	Concurrency int    `json:"concurrency"`
	Tasks       int64  `json:"tasks"` // report once this many have succeeded
	// BatchWait is the pool's PoolConfig.BatchWait.
	BatchWait time.Duration `json:"batch_wait"`
}

// workerEvent is one line the worker child writes on its stdout: ready
// once its pool runs, succeeded once Tasks tasks have, and the summary of
// its delays as it exits.
type workerEvent struct {
	Ready     bool          `json:"ready,omitempty"`
	Succeeded int64         `json:"succeeded,omitempty"`
	Summary   *delaySummary `json:"summary,omitempty"`
}

// delaySummary sums up the delays from submission (the payload's stamp) to
// handler start that the worker child saw.
type delaySummary struct {
	Count int     `json:"count"`
	P50ms float64 `json:"p50_ms"`
	P95ms float64 `json:"p95_ms"`
	P99ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

// steadyName is the task of the steady rows.
const steadyName = "bench.steady"

// steadyRegistry handles bench.steady: it passes each task's delay from
// its stamp to record (nil: none) and stores a small result.
func steadyRegistry(record func(time.Duration)) *tasks.Registry {
	reg := tasks.NewRegistry()
	tasks.Handle(reg, steadyName, func(ctx context.Context, t *tasks.Task, in stamp) (steadyResult, error) {
		if record != nil {
			record(time.Since(time.Unix(0, in.T)))
		}
		return steadyResult{OK: true}, nil
	})
	return reg
}

type steadyResult struct {
	OK bool `json:"ok"`
}

// delays collects the worker child's delays, and tells when want have
// been collected.
type delays struct {
	mu   sync.Mutex
	all  []time.Duration
	n    atomic.Int64
	want int64
	got  chan struct{} // closed at the want-th
}

func (d *delays) record(v time.Duration) {
	d.mu.Lock()
	d.all = append(d.all, v)
	d.mu.Unlock()
	if d.n.Add(1) == d.want {
		close(d.got)
	}
}

func (d *delays) summary() *delaySummary {
	d.mu.Lock()
	defer d.mu.Unlock()
	slices.Sort(d.all)
	return &delaySummary{Count: len(d.all), P50ms: percentileMs(d.all, 0.50), P95ms: percentileMs(d.all, 0.95),
		P99ms: percentileMs(d.all, 0.99), MaxMs: percentileMs(d.all, 1)}
}

// runWorker is the steady rows' worker child: a pool of bench.steady on
// the Redis and prefix it is given, which says when it is ready and when
// the given number of tasks has succeeded, and at the end of stdin stops
// and writes its delays' summary.
func runWorker(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	dec := json.NewDecoder(stdin)
	var p workerParams
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("bench worker: parameters: %w", err)
	}
	rdb, err := broker.Open(ctx, p.URL, cli.PoolSize("worker", 1))
	if err != nil {
		return fmt.Errorf("bench worker: %w", err)
	}
	defer rdb.Close()
	d := &delays{want: p.Tasks, got: make(chan struct{})}
	pool := tasks.NewPool(rdb, steadyRegistry(d.record),
		tasks.PoolConfig{Concurrency: p.Concurrency, BatchWait: p.BatchWait, Prefix: p.Prefix, Logger: slog.New(slog.DiscardHandler)})
	if err := pool.Register(ctx); err != nil {
		return fmt.Errorf("bench worker: %w", err)
	}
	stop := runPool(ctx, pool)
	eof := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, io.MultiReader(dec.Buffered(), stdin)); close(eof) }()
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(workerEvent{Ready: true}); err != nil {
		stop()
		return err
	}
	if awaitSucceeded(ctx, pool, d, eof) {
		_ = enc.Encode(workerEvent{Succeeded: pool.Stats().Succeeded})
	}
	<-eof
	stop()
	return enc.Encode(workerEvent{Summary: d.summary()})
}

// awaitSucceeded waits until d has seen its tasks start, then until the
// pool has stored as many results, and reports whether it has; it gives up
// when stop or ctx ends. Nothing polls before the last task starts, so an
// idle worker costs no more than it would outside the bench.
func awaitSucceeded(ctx context.Context, pool *tasks.Pool, d *delays, stop <-chan struct{}) bool {
	select {
	case <-d.got:
	case <-stop:
		return false
	case <-ctx.Done():
		return false
	}
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for pool.Stats().Succeeded < d.want {
		select {
		case <-t.C:
		case <-stop:
			return false
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// workerChild is the bench's handle on its steady worker child.
type workerChild struct {
	proc   *child
	events chan workerEvent // its stdout, line by line; closed at its end
}

// startWorker starts the worker child with p and waits until its pool
// runs.
func startWorker(ctx context.Context, p workerParams) (*workerChild, error) {
	cmd, err := childCommand(ctx, childWorker)
	if err != nil {
		return nil, err
	}
	w := &workerChild{proc: &child{cmd: cmd, done: make(chan struct{})}, events: make(chan workerEvent, 4)}
	cmd.Stderr = &w.proc.stderr
	out, err := cmd.StdoutPipe()
	if err == nil {
		w.proc.stdin, err = cmd.StdinPipe()
	}
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the worker process: %w", err)
	}
	go w.read(out)
	if err := json.NewEncoder(w.proc.stdin).Encode(p); err != nil {
		w.proc.kill()
		return nil, fmt.Errorf("send the worker its parameters: %w (%s)", err, w.proc.stderr.String())
	}
	if _, err := w.next(ctx, 15*time.Second, func(e workerEvent) bool { return e.Ready }); err != nil {
		w.proc.kill()
		return nil, err
	}
	return w, nil
}

// read passes the child's stdout lines to events (three at most, which
// the channel holds, so that read never blocks), then waits for its exit.
func (w *workerChild) read(out io.Reader) {
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var e workerEvent
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			w.events <- e
		}
	}
	close(w.events)
	w.proc.err = w.proc.cmd.Wait()
	close(w.proc.done)
}

// next waits up to limit for the child's next event that is, and returns it.
func (w *workerChild) next(ctx context.Context, limit time.Duration, is func(workerEvent) bool) (workerEvent, error) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-w.events:
			if !ok {
				return workerEvent{}, fmt.Errorf("worker process ended early: %s", w.proc.stderr.String())
			}
			if is(e) {
				return e, nil
			}
		case <-timer.C:
			return workerEvent{}, errors.New("worker process: timed out")
		case <-ctx.Done():
			return workerEvent{}, ctx.Err()
		}
	}
}

// finish stops the child and returns its summary.
func (w *workerChild) finish(ctx context.Context) (*delaySummary, error) {
	_ = w.proc.stdin.Close()
	e, err := w.next(ctx, 40*time.Second, func(e workerEvent) bool { return e.Summary != nil })
	if err != nil {
		return nil, err
	}
	<-w.proc.done
	return e.Summary, nil
}

// pid is the child's process ID, for its CPU time.
func (w *workerChild) pid() int { return w.proc.cmd.Process.Pid }
