package broker_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/internal/layout"
	"github.com/runq/runq/results"
)

// TestFailedTTL fails tasks with a failed TTL of a week set: a failed
// task, failed by its worker or as poison, is kept the week, one that
// asked for longer its own result TTL; a succeeded one its result TTL.
func TestFailedTTL(t *testing.T) {
	const week = 7 * 24 * time.Hour
	each(t, func(t *testing.T, s bundle) {
		b := broker.New(s.be.Client, s.be.Prefix)
		b.SetFailedTTL(week)
		s.b = b
		tests := []struct {
			name      string
			resultTTL time.Duration
			outcome   broker.Outcome
			want      time.Duration
		}{
			{"failed, short result TTL", time.Hour, broker.Failed, week},
			{"failed, longer result TTL", 30 * 24 * time.Hour, broker.Failed, 30 * 24 * time.Hour},
			{"succeeded", time.Hour, broker.Succeeded, time.Hour},
		}
		for _, tc := range tests {
			ts := []broker.NewTask{{Name: "x", Queue: "q", Payload: []byte(`1`), Timeout: time.Minute, ResultTTL: tc.resultTTL}}
			if _, err := s.b.Enqueue(s.ctx, ts); err != nil {
				t.Fatal(err)
			}
			c := claimOne(t, s, "q", time.Minute)
			mustFinish(t, s, broker.Finish{Claimed: &c, Outcome: tc.outcome, Result: []byte(`1`), Error: "boom"})
			checkTTL(t, s, tc.name, c.ID, tc.want)
		}
		// Poison: the lease of a started task lapses with no crash left.
		poison := enqueue(t, s, "p", "x", 0) // result TTL 1h
		taken := claimOne(t, s, "p", time.Minute)
		if err := s.be.Client.ZAdd(s.ctx, s.be.Keys.Leases("p"), redis.Z{Score: 1, Member: taken.Token}).Err(); err != nil {
			t.Fatal(err)
		}
		if m, err := s.b.Maintain(s.ctx, "p", 0); err != nil || m.Poisoned != 1 {
			t.Fatalf("Maintain(maxCrashes 0) = %+v, %v; want 1 poisoned", m, err)
		}
		if got := status(t, s, poison); got != "failed" {
			t.Fatalf("status of the poison task = %q, want failed", got)
		}
		checkTTL(t, s, "poison", poison, week)
	})
}

// checkTTL checks that task id's hash expires in about want, and that
// the failed zset's score of a failed one says the same.
func checkTTL(t *testing.T, s bundle, name string, id uuid.UUID, want time.Duration) {
	t.Helper()
	if ttl := s.be.Client.PTTL(s.ctx, s.b.TaskKey(id)).Val(); ttl <= want-time.Minute || ttl > want {
		t.Errorf("%s: PTTL = %v, want about %v", name, ttl, want)
	}
}

// TestRetryQueue fails 1,200 tasks (more than two batches of the
// script) and retries them in bulk from three callers at once: each task
// is queued once, with its ID, its attempts and its failures.
func TestRetryQueue(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		const n = 1200
		ts := make([]broker.NewTask, n)
		for i := range ts {
			ts[i] = broker.NewTask{Name: "x", Queue: "q", Payload: []byte(`1`), Timeout: time.Minute, ResultTTL: time.Hour}
		}
		if _, err := s.b.Enqueue(s.ctx, ts); err != nil {
			t.Fatal(err)
		}
		failed := make(map[string]bool, n)
		for len(failed) < n {
			cs := claimN(t, s, "q", 300, time.Minute)
			fs := make([]broker.Finish, len(cs))
			for i := range cs {
				fs[i] = broker.Finish{Claimed: &cs[i], Outcome: broker.Failed, Error: "boom"}
				failed[cs[i].ID.String()] = true
			}
			if _, err := s.b.Finish(s.ctx, fs); err != nil {
				t.Fatal(err)
			}
		}
		enqueue(t, s, "q", "x", 0) // one queued task, not retried, stays where it is
		var wg sync.WaitGroup
		var mu sync.Mutex
		var total int64
		for range 3 {
			wg.Go(func() {
				got, err := s.b.RetryQueue(s.ctx, "q", results.StatusFailed)
				if err != nil {
					t.Errorf("RetryQueue(q, failed) = %v", err)
				}
				mu.Lock()
				total += got
				mu.Unlock()
			})
		}
		wg.Wait()
		if total != n {
			t.Errorf("RetryQueue from three callers queued %d tasks in all, want %d", total, n)
		}
		list := s.be.Client.LRange(s.ctx, s.b.PendingKey("q"), 0, -1).Val()
		if len(list) != n+1 {
			t.Fatalf("queue length after the retries = %d, want %d", len(list), n+1)
		}
		seen := make(map[string]bool, n)
		for _, raw := range list[1:] {
			parsed, err := layout.ParseIDText(raw)
			if err != nil {
				t.Fatalf("queue holds %q: %v", raw, err)
			}
			id := parsed.String()
			if !failed[id] || seen[id] {
				t.Fatalf("queue holds %s: not one of the failed tasks, or twice", id)
			}
			seen[id] = true
		}
		if c, err := s.b.Counts(s.ctx, "q"); err != nil || c.Failed != 0 {
			t.Errorf("Counts after the retries = %+v, %v; want none failed", c, err)
		}
		claimOne(t, s, "q", time.Minute)      // the queued task
		c := claimOne(t, s, "q", time.Minute) // the first retried task
		if !failed[c.ID.String()] || c.Attempts != 2 || c.Failures != 1 {
			t.Errorf("a retried task claimed: %s at attempt %d with %d failures, want a failed one at 2 with 1", c.ID, c.Attempts, c.Failures)
		}
		if ttl := s.be.Client.PTTL(s.ctx, s.b.TaskKey(c.ID)).Val(); ttl != -1 {
			t.Errorf("PTTL of a retried task = %v, want none: it is not terminal", ttl)
		}
		if got, err := s.b.RetryQueue(s.ctx, "q", results.StatusFailed); err != nil || got != 0 {
			t.Errorf("RetryQueue again = %d, %v; want 0", got, err)
		}
		if _, err := s.b.RetryQueue(s.ctx, "q", results.StatusCanceled); !errors.Is(err, broker.ErrBadStatus) {
			t.Errorf("RetryQueue(q, canceled) = %v, want ErrBadStatus", err)
		}
	})
}
