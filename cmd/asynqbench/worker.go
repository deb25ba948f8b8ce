package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// workerEnv, when set, makes asynqbench the worker process of a steady row:
// its value is the workerConfig as JSON. It is an environment variable rather
// than a flag so that the Redis URL, password included, stays out of ps.
const workerEnv = "ASYNQBENCH_WORKER"

// workerConfig is what the parent tells its worker process.
type workerConfig struct {
	RedisURL      string        `json:"redis_url"`
	Concurrency   int           `json:"concurrency"`
	CheckInterval time.Duration `json:"check_interval"` // asynq TaskCheckInterval; 0 means asynq's 1 s
	Origin        int64         `json:"origin_unix_nano"`
	Tasks         int           `json:"tasks"`
}

// workerStats is the worker's reply to "stats": how many tasks its handler
// has started, its own CPU, and its Redis script calls and dials, read
// before and after the parent's INFO to bracket what Redis saw (see span).
type workerStats struct {
	Handled        int   `json:"handled"`
	CPU            int64 `json:"cpu_ns"` // getrusage user + system, all threads
	ScriptsStarted int64 `json:"scripts_started"`
	ScriptsDone    int64 `json:"scripts_done"`
	DialsStarted   int64 `json:"dials_started"`
	DialsDone      int64 `json:"dials_done"`
}

// workerSummary is the worker's last line, the reply to "done": the
// enqueue-to-start delays of every task its handler started.
type workerSummary struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// runWorker is the worker process: one asynq server whose handler records
// each task's delay from its payload stamp (nanoseconds since Origin, on the
// machine's wall clock, which both processes share) and stores a result. It
// answers one line on stdout per command line on stdin, and shuts down on
// "done" or when stdin closes.
func runWorker(raw string) error {
	var wc workerConfig
	if err := json.Unmarshal([]byte(raw), &wc); err != nil {
		return fmt.Errorf("worker: config: %w", err)
	}
	opts, err := loopbackOptions(wc.RedisURL)
	if err != nil {
		return err
	}
	opts.ClientName = clientName
	tc := &tripCounter{}
	rc := redis.NewClient(opts)
	rc.AddHook(tc)
	defer rc.Close()
	rec := &recorder{origin: time.Unix(0, wc.Origin), want: wc.Tasks, done: make(chan struct{})}
	h := asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		if err := rec.ProcessTask(ctx, t); err != nil {
			return err
		}
		_, err := t.ResultWriter().Write(result)
		return err
	})
	srv := asynq.NewServerFromRedisClient(rc, asynq.Config{
		Concurrency: wc.Concurrency, TaskCheckInterval: wc.CheckInterval, LogLevel: asynq.WarnLevel})
	if err := srv.Start(h); err != nil {
		return fmt.Errorf("worker: start asynq server: %w", err)
	}
	defer srv.Shutdown()
	return serveWorker(os.Stdin, os.Stdout, rec, tc, srv)
}

// serveWorker answers the parent's commands until "done" or end of input:
// "stats" at once, "wait" once the handler has started every task (the
// parent's context bounds the wait: it kills this process), "done" with the
// summary after shutting the server down.
func serveWorker(in io.Reader, out io.Writer, rec *recorder, tc *tripCounter, srv *asynq.Server) error {
	enc := json.NewEncoder(out)
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		var reply any
		switch cmd := sc.Text(); cmd {
		case "stats":
			reply = workerStatsNow(rec, tc)
		case "wait":
			<-rec.done
			reply = workerStatsNow(rec, tc)
		case "done":
			srv.Shutdown()
			return enc.Encode(summarize(rec))
		default:
			return fmt.Errorf("worker: unknown command %q", cmd)
		}
		if err := enc.Encode(reply); err != nil {
			return err
		}
	}
	return sc.Err()
}

// workerStatsNow reads the worker's counts.
func workerStatsNow(rec *recorder, tc *tripCounter) workerStats {
	rec.mu.Lock()
	handled := len(rec.delays)
	rec.mu.Unlock()
	return workerStats{Handled: handled, CPU: int64(processCPU()),
		ScriptsStarted: tc.scripts.started.Load(), ScriptsDone: tc.scripts.done.Load(),
		DialsStarted: dials.started.Load(), DialsDone: dials.done.Load()}
}

// summarize returns the count and percentiles of the recorded delays.
func summarize(rec *recorder) workerSummary {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	s := workerSummary{Count: len(rec.delays)}
	if s.Count > 0 {
		s.P50, s.P95, s.P99, s.Max = percentiles(rec.delays)
	}
	return s
}

// worker is the parent's handle on a worker process.
type worker struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *json.Decoder
	closed bool
}

// startWorker re-executes this binary as a worker process and waits until
// its asynq server has started. The process is killed if ctx ends.
func startWorker(ctx context.Context, wc workerConfig, stderr io.Writer) (*worker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	raw, err := json.Marshal(wc)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), workerEnv+"="+string(raw))
	cmd.Stderr = stderr
	cmd.WaitDelay = 10 * time.Second
	w := &worker{cmd: cmd}
	if w.in, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	w.out = json.NewDecoder(out)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("worker: start: %w", err)
	}
	if _, err := w.stats(); err != nil { // answered once the server runs
		w.close()
		return nil, err
	}
	return w, nil
}

// ask sends one command and decodes the one-line reply into v.
func (w *worker) ask(cmd string, v any) error {
	if _, err := io.WriteString(w.in, cmd+"\n"); err != nil {
		return fmt.Errorf("worker: send %s: %w", cmd, err)
	}
	if err := w.out.Decode(v); err != nil {
		return fmt.Errorf("worker: reply to %s: %w", cmd, err)
	}
	return nil
}

// stats asks the worker for its counts.
func (w *worker) stats() (workerStats, error) {
	var s workerStats
	return s, w.ask("stats", &s)
}

// waitStarted returns once the worker's handler has started every task.
func (w *worker) waitStarted() error {
	var s workerStats
	return w.ask("wait", &s)
}

// finish shuts the worker's server down and returns its delays.
func (w *worker) finish() (workerSummary, error) {
	var s workerSummary
	if err := w.ask("done", &s); err != nil {
		return s, err
	}
	return s, w.close()
}

// close ends the worker's input, which shuts it down, and waits for it to
// exit; ctx's end kills it. Calls after the first do nothing.
func (w *worker) close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.in.Close()
	if err := w.cmd.Wait(); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}
