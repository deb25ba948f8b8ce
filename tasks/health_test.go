package tasks_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
	"github.com/runq/runq/tasks/builtin"
)

// syncBuffer is a log destination safe for the pool's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// count returns how many log lines contain msg.
func (b *syncBuffer) count(msg string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), msg)
}

// TestPoolLogsAnOutageOnce checks that a pool on several queues (two claim
// loops, one blocked on Redis while the other parks) logs a Redis outage
// once when it begins and once when it ends, however many calls fail in
// between: a parked loop woken by the failing one must not take its wake-up
// for a sign that Redis is back.
func TestPoolLogsAnOutageOnce(t *testing.T) {
	t.Parallel()
	be := redistest.Mini(t)
	s := bundle{be: be, reg: tasks.NewRegistry()}
	builtin.Register(s.reg)
	s.client = tasks.NewClient(be.Client, tasks.ClientConfig{Prefix: be.Prefix, Logger: quiet()})
	t.Cleanup(func() { _ = s.client.Close() })
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
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
	be.Mini.SetError("OOM command not allowed when used memory > 'maxmemory'.")
	// Bounded: the claim loops retry within a second of each failure, so
	// 2.5s holds several failed calls of each loop.
	time.Sleep(2500 * time.Millisecond)
	if n, m := logs.count(down), logs.count(up); n != 1 || m != 0 {
		t.Fatalf("during the outage: %d %q and %d %q lines, want 1 and 0; logs:\n%s", n, down, m, up, logs.buf.String())
	}
	be.Mini.SetError("")
	runTask("after the outage")
	if n, m := logs.count(down), logs.count(up); n != 1 || m != 1 {
		t.Errorf("after the outage: %d %q and %d %q lines, want 1 and 1; logs:\n%s", n, down, m, up, logs.buf.String())
	}
}
