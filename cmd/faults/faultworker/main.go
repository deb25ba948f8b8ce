// Command faultworker is a runq worker program for the fault tests in
// cmd/faults/workers: runq's command line (runqcli.Main) with the built-in
// handlers plus handlers that misbehave on purpose. It is test tooling, not
// an example to copy: "exit" ends the process from inside a handler, and
// "record" writes to Redis outside runq's key layout.
//
//	record       count the execution in Redis (HINCRBY workers.ExecutionsKey <id>), sleep {"ms"}
//	slow         first attempt sleeps {"ms"} (ignoring cancellation if "ignore_cancel"); later ones return at once
//	zombie       ignore the context and sleep {"ms"} on the first {"attempts"} attempts (0: all)
//	hang         ignore the context and never return
//	panic        panic
//	unencodable  return a result that encoding/json refuses
//	exit         os.Exit(3): the task kills its worker process
//
// "record" connects to the Redis named by REDIS_URL (the variable the
// worker itself reads when --redis is not given).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/cmd/faults/workers"
	"github.com/runq/runq/cmd/runqcli"
	"github.com/runq/runq/tasks"
	"github.com/runq/runq/tasks/builtin"
)

func main() {
	reg := tasks.NewRegistry()
	builtin.Register(reg)
	h := &handlers{pid: os.Getpid()}
	if raw := os.Getenv("REDIS_URL"); raw != "" {
		if opts, err := redis.ParseURL(raw); err == nil {
			h.rdb = redis.NewClient(opts)
		}
	}
	tasks.Handle(reg, "record", h.record)
	tasks.Handle(reg, "slow", h.slow)
	tasks.Handle(reg, "zombie", h.zombie)
	reg.HandleFunc("hang", hang)
	reg.HandleFunc("panic", panics)
	reg.HandleFunc("unencodable", unencodable)
	reg.HandleFunc("exit", exit)
	os.Exit(runqcli.Main(reg))
}

type handlers struct {
	rdb *redis.Client // nil without REDIS_URL: "record" then fails
	pid int
}

// record counts the execution before sleeping, so a worker killed during
// the sleep leaves a count for an attempt that never finished.
func (h *handlers) record(ctx context.Context, t *tasks.Task, in workers.RecordArgs) (workers.RecordResult, error) {
	if h.rdb == nil {
		return workers.RecordResult{}, errors.New("record needs REDIS_URL")
	}
	n, err := h.rdb.HIncrBy(ctx, workers.ExecutionsKey, t.ID.String(), 1).Result()
	if err != nil {
		return workers.RecordResult{}, fmt.Errorf("count execution: %w", err)
	}
	if err := sleep(ctx, in.MS); err != nil {
		return workers.RecordResult{}, err
	}
	return workers.RecordResult{ID: t.ID.String(), Execution: n, PID: h.pid}, nil
}

func (h *handlers) slow(ctx context.Context, t *tasks.Task, in workers.SlowArgs) (workers.Outcome, error) {
	if t.Attempt == 1 {
		if in.IgnoreCancel {
			time.Sleep(time.Duration(in.MS) * time.Millisecond)
		} else if err := sleep(ctx, in.MS); err != nil {
			return workers.Outcome{}, err
		}
	}
	return workers.Outcome{Attempt: t.Attempt, PID: h.pid}, nil
}

func (h *handlers) zombie(ctx context.Context, t *tasks.Task, in workers.ZombieArgs) (workers.Outcome, error) {
	if in.Attempts == 0 || t.Attempt <= in.Attempts {
		time.Sleep(time.Duration(in.MS) * time.Millisecond) // ctx ignored on purpose
	}
	return workers.Outcome{Attempt: t.Attempt, PID: h.pid}, nil
}

// hang never returns. It sleeps rather than block on a channel, so the
// runtime never mistakes an idle worker for a deadlock.
func hang(context.Context, *tasks.Task) (any, error) {
	for {
		time.Sleep(time.Hour)
	}
}

func panics(_ context.Context, t *tasks.Task) (any, error) {
	panic(fmt.Sprintf("faultworker: task %s panics on purpose", t.ID))
}

func unencodable(context.Context, *tasks.Task) (any, error) {
	return map[string]any{"channel": make(chan int)}, nil
}

func exit(context.Context, *tasks.Task) (any, error) {
	os.Exit(workers.ExitCode)
	return nil, nil
}

// sleep waits ms milliseconds, or returns the context's cause if it ends
// first.
func sleep(ctx context.Context, ms int) error {
	timer := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
