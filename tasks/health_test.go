package tasks_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
	"github.com/runq/runq/tasks/builtin"
)

// TestPoolLogsAnOutageOnce checks that a pool on several queues (two claim
// loops, one blocked on Redis while the other parks) logs a Redis outage
// once when it begins and once when it ends, however many calls fail in
// between: a parked loop woken by the failing one must not take its wake-up
// for a sign that Redis is back.
func TestPoolLogsAnOutageOnce(t *testing.T) {
	t.Parallel()
	be := redistest.Mini(t)
	// The pool's own client counts what the outage does to it.
	calls := &outageCalls{}
	rdb := redis.NewClient(&redis.Options{Addr: be.Mini.Addr(), ContextTimeoutEnabled: true})
	rdb.AddHook(calls)
	t.Cleanup(func() { _ = rdb.Close() })
	be.Client = rdb
	s := bundle{be: be, reg: tasks.NewRegistry()}
	builtin.Register(s.reg)
	s.client = tasks.NewClient(be.Client, tasks.ClientConfig{Prefix: be.Prefix, Logger: quiet()})
	t.Cleanup(func() { _ = s.client.Close() })
	logs := &tasks.Messages{}
	log := slog.New(logs)
	s.startPool(t, tasks.PoolConfig{Queues: []string{"a", "b"}, Concurrency: 4, Logger: log})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runTask := func(when string) {
		t.Helper()
		rec, err := s.client.Submit(ctx, tasks.Request{Name: "echo", Payload: []byte(`1`), Options: tasks.Options{Queue: "b"}})
		if err != nil {
			t.Fatal(err)
		}
		if rec, err = s.client.Wait(ctx, rec.ID); err != nil || rec.Status != results.StatusSucceeded {
			t.Fatalf("a task %s: %s, %v; want succeeded", when, rec.Status, err)
		}
	}
	runTask("before the outage") // the pool runs, past its start

	const down, up = "Redis unavailable", "Redis available again"
	calls.begin()
	be.Mini.SetError("OOM command not allowed when used memory > 'maxmemory'.")
	// The outage lasts until the pool has failed many calls, and past the
	// 1s timeout of a BLMOVE blocked since before it began (the pool sends
	// those through a client of its own, out of this hook's sight): both
	// once made the log say the outage was over while it was not.
	until(t, "many refused calls, past a blocked BLMOVE's timeout", func() bool {
		return calls.refused() >= 10 && calls.since() > 1500*time.Millisecond
	})
	if n, m := logs.Count(down), logs.Count(up); n != 1 || m != 0 {
		t.Fatalf("during the outage: %d %q and %d %q lines, want 1 and 0; logs:\n%s", n, down, m, up, logs)
	}
	be.Mini.SetError("")
	runTask("after the outage")
	if n, m := logs.Count(down), logs.Count(up); n != 1 || m != 1 {
		t.Errorf("after the outage: %d %q and %d %q lines, want 1 and 1; logs:\n%s", n, down, m, up, logs)
	}
}

// outageCalls is a go-redis hook that counts the calls Redis refused with
// OOM since the outage began.
type outageCalls struct {
	mu    sync.Mutex
	began time.Time // of the outage; zero before
	n     int
}

func (o *outageCalls) begin() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.began = time.Now()
}

func (o *outageCalls) refused() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n
}

func (o *outageCalls) since() time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	return time.Since(o.began)
}

func (o *outageCalls) note(err error) {
	if err == nil || !strings.HasPrefix(err.Error(), "OOM") {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n++
}

func (o *outageCalls) DialHook(next redis.DialHook) redis.DialHook { return next }

func (o *outageCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		o.note(err)
		return err
	}
}

func (o *outageCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			o.note(cmd.Err())
		}
		return err
	}
}
