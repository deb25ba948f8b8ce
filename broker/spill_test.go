package broker_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/runq/runq/broker"
)

// TestSpilledValuesKeepTheHashCompact stores payloads and results around
// the sizes where spill.lua parts them (65 bytes to 61 + 4 * 64 = 317
// stored), with a callback URL's mark and a watch mark among them, and
// reads each back whole: from Get (joined in Go), from a claim (joined by
// start_task.lua) and as a result. On a real Redis the hash of every task
// whose values spill stays a listpack.
func TestSpilledValuesKeepTheHashCompact(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		sizes := []int{8, 64, 65, 66, 125, 126, 127, 200, 315, 316, 317, 318, 511, 3000}
		var ts []broker.NewTask
		for i, n := range sizes {
			for _, hook := range []string{"", "https://example.com/hook"} {
				ts = append(ts, broker.NewTask{Name: "echo", Queue: "q", Payload: jsonOf(n, uint64(i)),
					Timeout: time.Minute, ResultTTL: time.Hour, CallbackURL: hook})
			}
			// and one behind a key, which enqueue_keyed's script writes
			ts = append(ts, broker.NewTask{Name: "echo", Queue: "q", Payload: jsonOf(n, uint64(i)),
				Timeout: time.Minute, ResultTTL: time.Hour,
				Keys: []broker.KeyClaim{{Kind: broker.KeyIdempotency, Key: fmt.Sprint("k", i), Digest: "d", TTL: time.Hour}}})
		}
		if _, err := s.b.Enqueue(s.ctx, ts); err != nil {
			t.Fatal(err)
		}
		watched := ts[len(ts)/2].ID
		if _, _, err := s.b.Watch(s.ctx, watched); err != nil {
			t.Fatalf("Watch: %v", err)
		}
		for _, task := range ts {
			rec, err := s.b.Get(s.ctx, task.ID)
			if err != nil || !bytes.Equal(rec.Payload, task.Payload) {
				t.Fatalf("Get of a %d-byte payload = %.40q..., %v, want it whole", len(task.Payload), rec.Payload, err)
			}
			s.compact(t, task, false, task.ID == watched)
		}
		cs := claimN(t, s, "q", len(ts), time.Minute)
		for i := range cs {
			c := &cs[i]
			want := ts[i].Payload
			if c.ID != ts[i].ID || !bytes.Equal(c.Payload, want) || c.Unreadable != nil {
				t.Fatalf("claimed %s with %d bytes (%v), want %s with its %d", c.ID, len(c.Payload), c.Unreadable, ts[i].ID, len(want))
			}
			mustFinish(t, s, broker.Finish{Claimed: c, Outcome: broker.Succeeded, Result: want})
		}
		for _, task := range ts {
			rec, err := s.b.Get(s.ctx, task.ID)
			if err != nil || !bytes.Equal(rec.Result, task.Payload) || !bytes.Equal(rec.Payload, task.Payload) {
				t.Fatalf("Get after a %d-byte result = %.40q..., %v, want it whole", len(task.Payload), rec.Result, err)
			}
			s.compact(t, task, true, task.ID == watched)
		}
	})
}

// compact checks how task's payload (or its result, when result) is
// stored: in parts exactly when it is 65 to 317 bytes long as stored (a
// callback URL's mark is a byte), and, on a real Redis (miniredis has no
// OBJECT ENCODING), in a listpack whenever every value fits one.
func (s bundle) compact(t *testing.T, task broker.NewTask, result, watched bool) {
	t.Helper()
	payload := len(task.Payload) // as stored
	if task.CallbackURL != "" {
		payload++
	}
	stored, field := payload, "p"
	if result {
		stored, field = len(task.Payload), "r"
	}
	key := s.b.TaskKey(task.ID)
	parted := s.be.Client.HExists(s.ctx, key, field+"1").Val()
	if want := stored > 64 && stored <= 317; parted != want {
		t.Errorf("%d bytes stored in %s: in parts = %v, want %v", stored, field, parted, want)
	}
	if s.be.Mini != nil || watched {
		return
	}
	enc, err := s.be.Client.ObjectEncoding(s.ctx, key).Result()
	if want := payload <= 317; err != nil || (enc == "listpack") != want {
		t.Errorf("the hash of a task with %d bytes stored in %s is a %s (%v), want a listpack: %v", stored, field, enc, err, want)
	}
}

// jsonOf is n bytes of JSON (at least 8) that pack leaves as they are:
// pseudo-random letters in a string.
func jsonOf(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 3))
	b := append(make([]byte, 0, n), `{"s":"`...)
	for len(b) < n-2 {
		b = append(b, byte('a'+r.IntN(26)))
	}
	return append(b, `"}`...)
}

// TestSpilledErrors writes a task's error again and again, longer and
// shorter, across the sizes stored in parts, one of them beginning with
// the byte that opens a parted value: Get reads each back whole, no part
// of an earlier error outlives it, and success after failures leaves no
// error behind.
func TestSpilledErrors(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		long := func(n int) string { return strings.Repeat("e", n-4) + fmt.Sprintf("%04d", n) }
		errs := []string{long(200), "short", "\x03\x01 begins as a parted value would", "\x03\x02" + long(100), long(317), long(65), long(64), long(318), long(66)}
		ts := newTasks(t, "q", 1)
		if _, err := s.b.Enqueue(s.ctx, ts); err != nil {
			t.Fatal(err)
		}
		id := ts[0].ID
		for i, text := range errs {
			c := claimN(t, s, "q", 1, time.Minute)[0]
			outcome := broker.Retry
			if i == len(errs)-1 {
				outcome = broker.Failed
			}
			mustFinish(t, s, broker.Finish{Claimed: &c, Outcome: outcome, Error: text})
			rec, err := s.b.Get(s.ctx, id)
			if err != nil || rec.Error != text {
				t.Fatalf("Get after error %d (%d bytes) = %.50q, %v; want it whole", i, len(text), rec.Error, err)
			}
			parts := 0
			for p := 1; p <= 4; p++ {
				if s.be.Client.HExists(s.ctx, s.b.TaskKey(id), fmt.Sprintf("e%d", p)).Val() {
					parts = p
				}
			}
			if want := max(0, (len(text)-61+63)/64); (len(text) <= 64 || len(text) > 317) && parts != 0 || len(text) > 64 && len(text) <= 317 && parts != want {
				t.Fatalf("error %d (%d bytes) left %d parts, want %d", i, len(text), parts, want)
			}
			if outcome == broker.Retry {
				if _, err := s.b.Promote(s.ctx, "q"); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Retried from the dead letters, it succeeds: its error goes, parts and all.
		if _, err := s.b.Retry(s.ctx, id); err != nil {
			t.Fatal(err)
		}
		c := claimN(t, s, "q", 1, time.Minute)[0]
		mustFinish(t, s, broker.Finish{Claimed: &c, Outcome: broker.Succeeded, Result: []byte(`1`)})
		for _, f := range []string{"e", "e1", "e2"} {
			if s.be.Client.HExists(s.ctx, s.b.TaskKey(id), f).Val() {
				t.Errorf("field %s is left after the task succeeded", f)
			}
		}
	})
}

// TestSpilledWebhookFields gives a task a callback URL of 150 bytes and
// records webhook states longer and shorter than 64 bytes: Get reads the
// URL and each state whole, no part of a longer state outlives it, and on
// a real Redis the hash stays a listpack.
func TestSpilledWebhookFields(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		url := "https://hooks.example.com/" + strings.Repeat("x", 150-26)
		ts := newTasks(t, "q", 1)
		ts[0].CallbackURL = url
		if _, err := s.b.Enqueue(s.ctx, ts); err != nil {
			t.Fatal(err)
		}
		id := ts[0].ID
		c := claimN(t, s, "q", 1, time.Minute)[0]
		mustFinish(t, s, broker.Finish{Claimed: &c, Outcome: broker.Succeeded, Result: []byte(`1`)})
		long := `{"status":"pending","attempts":1,"last_status":503,"last_error":"` + strings.Repeat("e", 150) + `"}`
		for i, state := range []string{long, `{"status":"delivered","attempts":2}`} {
			hc, err := s.b.DueHooks(s.ctx, "q", 10, time.Minute)
			if err != nil || len(hc.IDs) != 1 {
				t.Fatalf("DueHooks = %+v, %v; want the task", hc, err)
			}
			if ok, err := s.b.HookDone(s.ctx, hc, id, []byte(state), 0); !ok || err != nil {
				t.Fatalf("HookDone = %v, %v", ok, err)
			}
			rec, err := s.b.Get(s.ctx, id)
			if err != nil || rec.CallbackURL != url || rec.Webhook == nil || rec.Webhook.Attempts != i+1 {
				t.Fatalf("Get after state %d = %q, %+v, %v; want the URL whole and %d attempts", i, rec.CallbackURL, rec.Webhook, err, i+1)
			}
			if parted := s.be.Client.HExists(s.ctx, s.b.TaskKey(id), "wh1").Val(); parted != (len(state) > 64) {
				t.Errorf("state %d (%d bytes) in parts = %v", i, len(state), parted)
			}
			if s.be.Mini == nil {
				if enc := s.be.Client.ObjectEncoding(s.ctx, s.b.TaskKey(id)).Val(); enc != "listpack" {
					t.Errorf("after state %d the hash is a %s, want a listpack", i, enc)
				}
			}
		}
	})
}
