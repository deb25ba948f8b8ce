package broker_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/internal/layout"
)

// TestHooks enqueues tasks with and without callback URLs, alone, in a
// batch and held back: only those with one carry it, and only their ends
// schedule a webhook, which one DueHooks takes at a time.
func TestHooks(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		const url = "https://example.com/hook"
		task := func(cb string, delay time.Duration) broker.NewTask {
			return broker.NewTask{Name: "x", Queue: "q", Payload: []byte(`{"a":1}`), Timeout: time.Minute, ResultTTL: time.Hour,
				CallbackURL: cb, Delay: delay}
		}
		batch := []broker.NewTask{task("", 0), task(url, 0), task(url, time.Hour)}
		if _, err := s.b.Enqueue(s.ctx, batch); err != nil {
			t.Fatal(err)
		}
		single := []broker.NewTask{task(url, 0)}
		if _, err := s.b.Enqueue(s.ctx, single); err != nil {
			t.Fatal(err)
		}
		for i, tc := range []struct {
			id   uuid.UUID
			want string
		}{{batch[0].ID, ""}, {batch[1].ID, url}, {batch[2].ID, url}, {single[0].ID, url}} {
			if got := hget(t, s, tc.id, layout.FieldCallback); got != tc.want {
				t.Errorf("task %d: HGET cb = %q, want %q", i, got, tc.want)
			}
		}
		if got := status(t, s, batch[2].ID); got != "scheduled" {
			t.Errorf("the held-back task is %s, want scheduled", got)
		}
		cs := claimN(t, s, "q", 3, time.Minute) // batch[0], batch[1], single[0]
		for i := range cs {
			mustFinish(t, s, broker.Finish{Claimed: &cs[i], Outcome: broker.Succeeded, Result: []byte(`1`)})
			if rec, err := s.b.Get(s.ctx, cs[i].ID); err != nil || string(rec.Payload) != `{"a":1}` {
				t.Errorf("Get(%s) payload = %s, %v; want it as sent", cs[i].ID, rec.Payload, err)
			}
		}
		hooks := s.be.Client.ZRange(s.ctx, s.be.Keys.Hooks("q"), 0, -1).Val()
		if len(hooks) != 2 {
			t.Fatalf("hooks zset = %q, want the two ended tasks with a callback", hooks)
		}
		hc, err := s.b.DueHooks(s.ctx, "q", 10, time.Minute)
		if err != nil || len(hc.IDs) != 2 {
			t.Fatalf("DueHooks = %+v, %v; want 2", hc, err)
		}
		if again, err := s.b.DueHooks(s.ctx, "q", 10, time.Minute); err != nil || len(again.IDs) != 0 {
			t.Errorf("DueHooks again = %+v, %v; want none: both are taken", again, err)
		}
		stale := hc
		stale.Fence = "1"
		if ok, err := s.b.HookDone(s.ctx, stale, hc.IDs[0], []byte(`{"status":"delivered","attempts":1}`), -1); err != nil || ok {
			t.Errorf("HookDone with a stale fence = %v, %v; want false", ok, err)
		}
		if ok, err := s.b.HookDone(s.ctx, hc, hc.IDs[0], []byte(`{"status":"delivered","attempts":1}`), -1); err != nil || !ok {
			t.Errorf("HookDone = %v, %v; want true", ok, err)
		}
		if ok, err := s.b.HookDone(s.ctx, hc, hc.IDs[1], []byte(`{"status":"pending","attempts":1,"last_status":503}`), 0); err != nil || !ok {
			t.Errorf("HookDone(retry now) = %v, %v; want true", ok, err)
		}
		rec, err := s.b.Get(s.ctx, hc.IDs[0])
		if err != nil || rec.CallbackURL != url || rec.Webhook == nil || rec.Webhook.Status != "delivered" {
			t.Errorf("record after delivery = %+v, %v; want its callback and webhook delivered", rec, err)
		}
		if again, err := s.b.DueHooks(s.ctx, "q", 10, time.Minute); err != nil || len(again.IDs) != 1 || again.IDs[0] != hc.IDs[1] {
			t.Errorf("DueHooks after a retry = %+v, %v; want the one to retry", again, err)
		}
	})
}

// TestHooksOfKeyedTasks enqueues tasks with a callback URL that also
// claim keys (they take enqueue.lua behind claim_keys.lua): the URL is
// stored as for plain tasks, and their end schedules the webhook.
func TestHooksOfKeyedTasks(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		const url = "https://example.com/hook"
		ts := []broker.NewTask{
			{Name: "x", Queue: "q", Payload: []byte(`1`), Timeout: time.Minute, ResultTTL: time.Hour, CallbackURL: url,
				Keys: []broker.KeyClaim{{Kind: broker.KeyIdempotency, Key: "k1", Digest: "d", TTL: time.Hour}}},
			{Name: "x", Queue: "q", Payload: []byte(`2`), Timeout: time.Minute, ResultTTL: time.Hour,
				Keys: []broker.KeyClaim{{Kind: broker.KeyUniqueFor, Key: "k2", TTL: time.Hour}}},
		}
		if _, err := s.b.Enqueue(s.ctx, ts); err != nil {
			t.Fatal(err)
		}
		for i, want := range []string{url, ""} {
			if got := hget(t, s, ts[i].ID, layout.FieldCallback); got != want {
				t.Errorf("keyed task %d: HGET cb = %q, want %q", i, got, want)
			}
		}
		cs := claimN(t, s, "q", 2, time.Minute)
		for i := range cs {
			mustFinish(t, s, broker.Finish{Claimed: &cs[i], Outcome: broker.Failed, Error: "boom"})
		}
		hooks := s.be.Client.ZRange(s.ctx, s.be.Keys.Hooks("q"), 0, -1).Val()
		if len(hooks) != 1 || hooks[0] != layout.IDText(ts[0].ID) {
			t.Errorf("hooks zset = %q, want the keyed task with a callback, %s", hooks, ts[0].ID)
		}
	})
}
