package tasks_test

import (
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

// messages is a slog.Handler that keeps each record's message, for tests
// that count log lines.
type messages struct {
	mu   sync.Mutex
	msgs []string
}

func (m *messages) Enabled(context.Context, slog.Level) bool { return true }
func (m *messages) WithAttrs([]slog.Attr) slog.Handler       { return m }
func (m *messages) WithGroup(string) slog.Handler            { return m }
func (m *messages) Handle(_ context.Context, r slog.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, r.Message)
	return nil
}

// count returns how many messages begin with prefix.
func (m *messages) count(prefix string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, msg := range m.msgs {
		if strings.HasPrefix(msg, prefix) {
			n++
		}
	}
	return n
}

func (m *messages) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return strings.Join(m.msgs, "\n")
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
	logs := &messages{}
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
	be.Mini.SetError("OOM command not allowed when used memory > 'maxmemory'.")
	// Bounded: the claim loops retry within a second of each failure, so
	// 2.5s holds several failed calls of each loop.
	time.Sleep(2500 * time.Millisecond)
	if n, m := logs.count(down), logs.count(up); n != 1 || m != 0 {
		t.Fatalf("during the outage: %d %q and %d %q lines, want 1 and 0; logs:\n%s", n, down, m, up, logs)
	}
	be.Mini.SetError("")
	runTask("after the outage")
	if n, m := logs.count(down), logs.count(up); n != 1 || m != 1 {
		t.Errorf("after the outage: %d %q and %d %q lines, want 1 and 1; logs:\n%s", n, down, m, up, logs)
	}
}
