package tasks

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runq/runq/broker"
)

// TestRedisHealthIgnoresCallsSentBeforeTheOutage checks the rule that
// keeps an outage's end from being logged early: a call that succeeds but
// was sent before the outage was seen (a BLMOVE blocked since before Redis
// began refusing writes) proves nothing; one sent after it does.
func TestRedisHealthIgnoresCallsSentBeforeTheOutage(t *testing.T) {
	t.Parallel()
	logs := &messages{}
	h := redisHealth{log: slog.New(logs)}
	oom := redisReply{errors.New("OOM command not allowed when used memory > 'maxmemory'.")}
	const down, up = "Redis unavailable", "Redis available again"

	sentBefore := time.Now()
	time.Sleep(time.Millisecond) // the clock moves between the two calls
	for range 2 {                // an outage's first failure, and one more
		if !h.failed("claim", oom) {
			t.Fatal("failed(OOM) = false, want true: Redis refusing writes is unavailable")
		}
	}
	h.ok(sentBefore)
	if n, m := logs.Count(down), logs.Count(up); n != 1 || m != 0 {
		t.Fatalf("after two failures and a success of a call sent before them: %d %q and %d %q lines, want 1 and 0", n, down, m, up)
	}
	h.ok(time.Now())
	if n, m := logs.Count(down), logs.Count(up); n != 1 || m != 1 {
		t.Fatalf("after a success of a call sent during the outage: %d %q and %d %q lines, want 1 and 1", n, down, m, up)
	}
	h.ok(time.Now()) // no outage: nothing to say
	if m := logs.Count(up); m != 1 {
		t.Errorf("a success with Redis up logged again: %d %q lines", m, up)
	}
}

// TestRedisHealthCountsOnlyCallsThatWrote checks which served calls end an
// outage: a start or a finish proves Redis takes writes only if it wrote,
// that is started a task or applied an outcome. Redis out of memory or
// read-only serves a start that found nothing to start, and a finish of
// attempts whose leases were lost: they write nothing.
func TestRedisHealthCountsOnlyCallsThatWrote(t *testing.T) {
	t.Parallel()
	oom := redisReply{errors.New("OOM command not allowed when used memory > 'maxmemory'.")}
	lost := []error{broker.ErrLeaseLost, broker.ErrLeaseLost}
	tests := []struct {
		name string
		call func(p *Pool, began time.Time)
		want int // "Redis available again" lines
	}{
		{"start that started nothing", func(p *Pool, began time.Time) { p.startedOK(began, nil) }, 0},
		{"start that started a task", func(p *Pool, began time.Time) { p.startedOK(began, make([]broker.Claimed, 1)) }, 1},
		{"finish whose leases were all lost", func(p *Pool, began time.Time) { p.finishedOK(began, lost) }, 0},
		{"finish of no attempt", func(p *Pool, began time.Time) { p.finishedOK(began, nil) }, 0},
		{"finish that applied one outcome", func(p *Pool, began time.Time) {
			p.finishedOK(began, []error{broker.ErrLeaseLost, nil})
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &messages{}
			p := &Pool{health: redisHealth{log: slog.New(logs)}}
			p.health.failed("record outcomes", oom)
			tt.call(p, time.Now())
			if got := logs.Count("Redis available again"); got != tt.want {
				t.Errorf("Count(%q) = %d, want %d; logs:\n%s", "Redis available again", got, tt.want, logs)
			}
		})
	}
}

// redisReply makes an error look like a Redis error reply to go-redis.
type redisReply struct{ error }

func (redisReply) RedisError() {}

// messages is a slog.Handler that keeps each record's message, for tests
// that count log lines (exported to package tasks_test as Messages).
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

// Count returns how many messages begin with prefix.
func (m *messages) Count(prefix string) int {
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
