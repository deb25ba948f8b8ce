package broker_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/internal/layout"
)

// A cancel asked while an attempt runs is not lost when the attempt ends
// as a retry or a release (its worker took the handler's error, or was
// stopping, before the cancel reached it): the task ends canceled, in the
// canceled zset and, with a callback URL, the hooks zset; it never runs
// again. Without a cancel, a retry or a release is unchanged.
func TestFinishRequeueOfCanceledCancels(t *testing.T) {
	tests := []struct {
		name     string
		outcome  broker.Outcome
		cancel   bool
		callback string
		batch    bool // finished in one call with a succeeded attempt of the same lease
	}{
		{name: "retry", outcome: broker.Retry, cancel: true},
		{name: "release", outcome: broker.Release, cancel: true},
		{name: "retry with callback", outcome: broker.Retry, cancel: true, callback: "https://example.com/h"},
		{name: "release with callback", outcome: broker.Release, cancel: true, callback: "https://example.com/h"},
		{name: "retry in a batch", outcome: broker.Retry, cancel: true, batch: true, callback: "https://example.com/h"},
		{name: "retry not canceled", outcome: broker.Retry},
		{name: "release not canceled", outcome: broker.Release, callback: "https://example.com/h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			each(t, func(t *testing.T, s bundle) {
				const q = "q"
				ts := []broker.NewTask{
					{Name: "x", Queue: q, Payload: []byte(`1`), Timeout: time.Minute, ResultTTL: time.Hour, MaxRetries: 3, CallbackURL: tt.callback},
					{Name: "x", Queue: q, Payload: []byte(`2`), Timeout: time.Minute, ResultTTL: time.Hour},
				}
				if _, err := s.b.Enqueue(s.ctx, ts); err != nil {
					t.Fatal(err)
				}
				cs := claimN(t, s, q, 2, time.Minute)
				if cs[0].ID != ts[0].ID {
					cs[0], cs[1] = cs[1], cs[0]
				}
				id := cs[0].ID
				if tt.cancel {
					if st, err := s.b.Cancel(s.ctx, id); err != nil || st != "running" {
						t.Fatalf("Cancel(%s) = %s, %v, want running", id, st, err)
					}
				}
				fs := []broker.Finish{{Claimed: &cs[0], Outcome: tt.outcome, RetryIn: time.Millisecond, Error: "boom"}}
				if tt.batch {
					fs = append(fs, broker.Finish{Claimed: &cs[1], Outcome: broker.Succeeded, Result: []byte(`2`)})
				} else {
					mustFinish(t, s, broker.Finish{Claimed: &cs[1], Outcome: broker.Succeeded, Result: []byte(`2`)})
				}
				errs, err := s.b.Finish(s.ctx, fs)
				if err != nil || errors.Join(errs...) != nil {
					t.Fatalf("Finish = %v, %v, want applied", errs, err)
				}
				want := map[bool]string{true: "canceled", false: "retrying"}[tt.cancel]
				if !tt.cancel && tt.outcome == broker.Release {
					want = "queued"
				}
				if got := status(t, s, id); got != want {
					t.Fatalf("status(%s) = %q, want %q", id, got, want)
				}
				if got := status(t, s, cs[1].ID); got != "succeeded" {
					t.Errorf("status(%s) = %q, want succeeded", cs[1].ID, got)
				}
				inCanceled := zmember(t, s, s.be.Keys.Ended(q, "canceled"), id)
				if inCanceled != tt.cancel {
					t.Errorf("in the canceled zset = %v, want %v", inCanceled, tt.cancel)
				}
				inHooks := zmember(t, s, s.be.Keys.Hooks(q), id)
				if want := tt.cancel && tt.callback != ""; inHooks != want {
					t.Errorf("in the hooks zset = %v, want %v", inHooks, want)
				}
				if !tt.cancel {
					return
				}
				ttl, err := s.be.Client.PTTL(s.ctx, s.b.TaskKey(id)).Result()
				if err != nil || ttl <= 0 || ttl > time.Hour {
					t.Errorf("PTTL(%s) = %v, %v, want the result TTL (<= 1h)", id, ttl, err)
				}
				if s.be.Mini != nil {
					s.be.Mini.FastForward(time.Second)
				} else {
					time.Sleep(20 * time.Millisecond)
				}
				if _, err := s.b.Maintain(s.ctx, q, 3); err != nil {
					t.Fatal(err)
				}
				if again, err := claim(s, q, 1, time.Minute); err != nil || len(again) != 0 {
					t.Fatalf("claim after the cancel = %d tasks, %v, want none", len(again), err)
				}
			})
		})
	}
}

// zmember reports whether id is a member of the sorted set key.
func zmember(t *testing.T, s bundle, key string, id uuid.UUID) bool {
	t.Helper()
	_, err := s.be.Client.ZScore(s.ctx, key, layout.IDText(id)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	return err == nil
}
