package tasks

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// TestRedisHealthIgnoresCallsSentBeforeTheOutage checks the rule that
// keeps an outage's end from being logged early: a call that succeeds but
// was sent before the outage was seen (a BLMOVE blocked since before Redis
// began refusing writes) proves nothing; one sent after it does.
func TestRedisHealthIgnoresCallsSentBeforeTheOutage(t *testing.T) {
	t.Parallel()
	logs := &levels{}
	h := redisHealth{log: slog.New(logs)}
	oom := redisReply{errors.New("OOM command not allowed when used memory > 'maxmemory'.")}

	sentBefore := time.Now()
	time.Sleep(time.Millisecond) // the clock moves between the two calls
	if !h.failed("claim", oom) || !h.failed("claim", oom) {
		t.Fatal("failed(OOM) = false, want true: Redis refusing writes is unavailable")
	}
	h.ok(sentBefore)
	if got := logs.get(); len(got) != 1 || got[0] != slog.LevelError {
		t.Fatalf("after two failures and a success of a call sent before them: logged %v, want one error", got)
	}
	h.ok(time.Now())
	if got := logs.get(); len(got) != 2 || got[1] != slog.LevelInfo {
		t.Fatalf("after a success of a call sent during the outage: logged %v, want the error then one info", got)
	}
	h.ok(time.Now()) // no outage: nothing to say
	if got := logs.get(); len(got) != 2 {
		t.Errorf("a success with Redis up logged again: %v", got)
	}
}

// redisReply makes an error look like a Redis error reply to go-redis.
type redisReply struct{ error }

func (redisReply) RedisError() {}

// levels is a slog.Handler that keeps each record's level.
type levels struct {
	mu  sync.Mutex
	got []slog.Level
}

func (l *levels) Enabled(context.Context, slog.Level) bool { return true }
func (l *levels) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *levels) WithGroup(string) slog.Handler            { return l }
func (l *levels) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, r.Level)
	return nil
}

func (l *levels) get() []slog.Level {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]slog.Level(nil), l.got...)
}
