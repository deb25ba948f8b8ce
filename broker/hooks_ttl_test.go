package broker_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
)

// TestHookRetryKeepsTheTask ends a task whose result TTL (a minute) is
// shorter than its webhook's next attempt (an hour away): the task's hash
// is kept until after that attempt; a later attempt due sooner does not
// shorten it, and a delivery that ends restores nothing.
func TestHookRetryKeepsTheTask(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		if _, ok, err := s.b.FirstHook(s.ctx, "q"); err != nil || ok {
			t.Fatalf("FirstHook(no hooks) = %v, %v; want none", ok, err)
		}
		ts := []broker.NewTask{{Name: "x", Queue: "q", Payload: []byte(`1`), Timeout: time.Minute, ResultTTL: time.Minute,
			CallbackURL: "https://example.com/hook"}}
		if _, err := s.b.Enqueue(s.ctx, ts); err != nil {
			t.Fatal(err)
		}
		cs := claimN(t, s, "q", 1, time.Minute)
		mustFinish(t, s, broker.Finish{Claimed: &cs[0], Outcome: broker.Succeeded, Result: []byte(`1`)})
		if at, ok, err := s.b.FirstHook(s.ctx, "q"); err != nil || !ok || at.IsZero() {
			t.Fatalf("FirstHook(one due) = %v, %v, %v; want its time", at, ok, err)
		}
		key := s.b.TaskKey(ts[0].ID)
		pttl := func() time.Duration { return s.be.Client.PTTL(s.ctx, key).Val() }
		if ttl := pttl(); ttl <= 0 || ttl > time.Minute {
			t.Fatalf("PTTL of the finished task = %v, want its result TTL, a minute", ttl)
		}
		attempt := func(retryIn time.Duration) {
			t.Helper()
			hc, err := s.b.DueHooks(s.ctx, "q", 1, time.Minute)
			if err != nil || len(hc.IDs) != 1 || hc.At.IsZero() {
				t.Fatalf("DueHooks = %+v, %v; want the task, with its time", hc, err)
			}
			if ok, err := s.b.HookDone(s.ctx, hc, hc.IDs[0], []byte(`{"status":"pending","attempts":1}`), retryIn); err != nil || !ok {
				t.Fatalf("HookDone(retry in %v) = %v, %v; want true", retryIn, ok, err)
			}
			for _, m := range s.be.Client.ZRange(s.ctx, s.be.Keys.Hooks("q"), 0, -1).Val() {
				s.be.Client.ZAdd(s.ctx, s.be.Keys.Hooks("q"), redis.Z{Member: m}) // due now, for the next attempt
			}
		}
		attempt(time.Hour)
		if ttl := pttl(); ttl < time.Hour+9*time.Minute || ttl > time.Hour+10*time.Minute {
			t.Errorf("PTTL after a retry in an hour = %v, want about 1h10m", ttl)
		}
		attempt(time.Second)
		if ttl := pttl(); ttl < time.Hour+9*time.Minute {
			t.Errorf("PTTL after a retry in a second = %v, want still about 1h10m", ttl)
		}
		hc, err := s.b.DueHooks(s.ctx, "q", 1, time.Minute)
		if err != nil || len(hc.IDs) != 1 {
			t.Fatalf("DueHooks = %+v, %v; want the task", hc, err)
		}
		if ok, err := s.b.HookDone(s.ctx, hc, hc.IDs[0], []byte(`{"status":"delivered","attempts":3}`), -1); err != nil || !ok {
			t.Fatalf("HookDone(delivered) = %v, %v; want true", ok, err)
		}
		if ttl := pttl(); ttl < time.Hour+9*time.Minute {
			t.Errorf("PTTL after delivery = %v, want unchanged", ttl)
		}
	})
}
