package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// TestIdempotencyKeyRacingClients: 50 submitters, each with a client and
// connection of its own, send one idempotency key at once: exactly one
// task, and every submitter gets its ID.
func TestIdempotencyKeyRacingClients(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.register(t)
		const n = 50
		req := tasks.Request{Name: "echo", Payload: json.RawMessage(`{"order": 7}`), IdempotencyKey: "order-7"}
		recs := make([]results.Record, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			c, err := tasks.Connect(context.Background(), s.be.URL, tasks.ClientConfig{Prefix: s.be.Prefix, Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			wg.Go(func() {
				<-start
				var err error
				if recs[i], err = c.Submit(context.Background(), req); err != nil {
					t.Errorf("Submit %d: %v", i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		fresh := 0
		for i, rec := range recs {
			if rec.ID != recs[0].ID {
				t.Fatalf("Submit %d = task %s, Submit 0 = %s: want one task", i, rec.ID, recs[0].ID)
			}
			if !rec.Replayed {
				fresh++
			}
		}
		if fresh != 1 {
			t.Errorf("%d answers not Replayed, want 1", fresh)
		}
		if st := queueStats(t, s); st.Pending != 1 {
			t.Fatalf("Pending after %d racing submitters = %d, want 1", n, st.Pending)
		}
		// The same key with another payload is refused, and changes nothing.
		other := req
		other.Payload = json.RawMessage(`{"order": 8}`)
		if _, err := s.client.Submit(context.Background(), other); !errors.Is(err, tasks.ErrIdempotencyMismatch) {
			t.Fatalf("Submit(same key, other payload) = %v, want ErrIdempotencyMismatch", err)
		}
		// Spacing in the payload is not a difference.
		spaced := req
		spaced.Payload = json.RawMessage(`{ "order" : 7 }`)
		if rec, err := s.client.Submit(context.Background(), spaced); err != nil || rec.ID != recs[0].ID || !rec.Replayed {
			t.Fatalf("Submit(same key, spaced payload) = %s (replayed %v), %v; want %s replayed", rec.ID, rec.Replayed, err, recs[0].ID)
		}
		if st := queueStats(t, s); st.Pending != 1 {
			t.Fatalf("Pending = %d, want 1", st.Pending)
		}
	})
}

func queueStats(t *testing.T, s bundle) broker.QueueStats {
	t.Helper()
	st, err := s.b.Stats(context.Background(), tasks.DefaultQueue)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestUniqueHolds checks every hold of a unique key against the state
// changes of its holder: queued, started, finished, canceled.
func TestUniqueHolds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                  string
		unique                tasks.Unique
		heldRunning, heldDone bool
	}{
		{"until started", tasks.Unique{Key: "k", Until: tasks.UntilStarted}, false, false},
		{"until finished", tasks.Unique{Key: "k", Until: tasks.UntilFinished}, true, false},
		{"for", tasks.Unique{Key: "k", For: 10 * time.Minute}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			each(t, func(t *testing.T, s bundle) {
				s.register(t)
				ctx := context.Background()
				u := tt.unique
				req := tasks.Request{Name: "echo", Unique: &u}
				first, err := s.client.Submit(ctx, req)
				if err != nil || first.Replayed {
					t.Fatalf("Submit = %+v, %v; want a new task", first, err)
				}
				held := func(what string, want bool) {
					t.Helper()
					rec, err := s.client.Submit(ctx, req)
					if err != nil {
						t.Fatalf("Submit %s: %v", what, err)
					}
					if got := rec.ID == first.ID; got != want || rec.Replayed != want {
						t.Fatalf("Submit %s = %s (replayed %v), holder %s: want held %v", what, rec.ID, rec.Replayed, first.ID, want)
					}
					if !want {
						first = rec // the new holder
					}
				}
				held("while queued", true)
				reject := req
				reject.OnConflict = tasks.OnConflictReject
				_, err = s.client.Submit(ctx, reject)
				var dup *tasks.DuplicateError
				if !errors.As(err, &dup) || !errors.Is(err, tasks.ErrDuplicate) || dup.Holder != first.ID {
					t.Fatalf("Submit(reject) while queued = %v, want a DuplicateError naming %s", err, first.ID)
				}
				task := s.claim(t, tasks.DefaultQueue, time.Minute)
				held("once started", tt.heldRunning)
				if tt.heldRunning {
					if err := s.finish(broker.Finish{Claimed: &task, Outcome: broker.Succeeded, Result: []byte("1")}); err != nil {
						t.Fatal(err)
					}
					held("once finished", tt.heldDone)
				}
				// Whoever holds the key now, canceling it frees the key.
				if st := s.get(t, first.ID).Status; st == results.StatusQueued {
					if _, err := s.client.Cancel(ctx, first.ID); err != nil {
						t.Fatal(err)
					}
					held("once canceled", false)
				}
			})
		})
	}
}

// TestKeyedBatch: a batch's tasks carry keys of their own; resent, it is
// answered with the same tasks, replayed; two tasks with one key are
// refused.
func TestKeyedBatch(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.register(t)
		ctx := context.Background()
		batch := []tasks.Request{
			{Name: "echo", IdempotencyKey: "a"},
			{Name: "echo"},
			{Name: "echo", Unique: &tasks.Unique{Key: "u", Until: tasks.UntilFinished}},
		}
		first, err := s.client.SubmitBatch(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.client.SubmitBatch(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []bool{true, false, true} {
			if same := again[i].ID == first[i].ID; same != want || again[i].Replayed != want {
				t.Errorf("resent batch: tasks[%d] = %s (replayed %v), first %s: want the same %v", i, again[i].ID, again[i].Replayed, first[i].ID, want)
			}
		}
		if st := queueStats(t, s); st.Pending != 4 {
			t.Errorf("Pending = %d, want 4", st.Pending)
		}
		twice := []tasks.Request{{Name: "echo", IdempotencyKey: "b"}, {Name: "echo", IdempotencyKey: "b"}}
		if _, err := s.client.SubmitBatch(ctx, twice); !errors.Is(err, tasks.ErrInvalid) {
			t.Errorf("SubmitBatch(two tasks, one key) = %v, want ErrInvalid", err)
		}
	})
}

func TestKeysValidate(t *testing.T) {
	t.Parallel()
	long := string(make([]byte, tasks.MaxKeyLen+1))
	bad := []tasks.Request{
		{Name: "e", IdempotencyKey: long},
		{Name: "e", IdempotencyKey: "a\nb"},
		{Name: "e", Unique: &tasks.Unique{Key: "k"}},
		{Name: "e", Unique: &tasks.Unique{Key: "k", For: time.Minute, Until: tasks.UntilStarted}},
		{Name: "e", Unique: &tasks.Unique{Key: "k", Until: "done"}},
		{Name: "e", Unique: &tasks.Unique{For: time.Minute}},
		{Name: "e", Unique: &tasks.Unique{Key: "k", For: tasks.MaxUniqueFor + 1}},
		{Name: "e", OnConflict: tasks.OnConflictReject},
		{Name: "e", Unique: &tasks.Unique{Key: "k", For: time.Minute}, OnConflict: "ignore"},
		{Name: "e", Broadcast: true, IdempotencyKey: "k"},
		{Name: "e", Broadcast: true, Unique: &tasks.Unique{Key: "k", For: time.Minute}},
	}
	for _, r := range bad {
		if err := r.Validate(); !errors.Is(err, tasks.ErrInvalid) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalid", r, err)
		}
	}
	good := tasks.Request{Name: "e", IdempotencyKey: "k", Unique: &tasks.Unique{Key: "k", Until: tasks.UntilFinished}, OnConflict: tasks.OnConflictReject}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate(%+v) = %v, want nil", good, err)
	}
	// The JSON form round-trips through the strict decoder.
	raw, err := json.Marshal(good)
	if err != nil {
		t.Fatal(err)
	}
	var back tasks.Request
	if err := json.Unmarshal(raw, &back); err != nil || back.IdempotencyKey != "k" || back.Unique == nil || *back.Unique != *good.Unique || back.OnConflict != good.OnConflict {
		t.Errorf("Unmarshal(%s) = %+v, %v; want %+v", raw, back, err, good)
	}
	for _, body := range []string{`{"name":"e","unique":{"key":"k","for":"1m","key":"j"}}`, `{"name":"e","unique":{"key":"k","bogus":1}}`, `{"name":"e","unique":"k"}`} {
		var r tasks.Request
		if err := json.Unmarshal([]byte(body), &r); !errors.Is(err, tasks.ErrInvalid) {
			t.Errorf("Unmarshal(%s) = %v, want ErrInvalid", body, err)
		}
	}
}

// TestKeyedBatchOneQueue: a keyed batch spanning two queues is refused
// before anything is written, even when one queue's key is held (a 409
// there must not leave the other queue's task written).
func TestKeyedBatchOneQueue(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.register(t)
		ctx := context.Background()
		unique := &tasks.Unique{Key: "k", For: time.Hour}
		if _, err := s.client.Submit(ctx, tasks.Request{Name: "echo", Unique: unique}); err != nil {
			t.Fatal(err)
		}
		batch := []tasks.Request{
			{Name: "echo", Options: tasks.Options{Queue: "other"}, IdempotencyKey: "a"},
			{Name: "echo", Unique: unique, OnConflict: tasks.OnConflictReject},
		}
		if _, err := s.client.SubmitBatch(ctx, batch); !errors.Is(err, tasks.ErrInvalid) {
			t.Errorf("SubmitBatch(keyed, two queues) = %v, want ErrInvalid", err)
		}
		for _, q := range []string{"other", tasks.DefaultQueue} {
			st, err := s.b.Stats(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]int64{"other": 0, tasks.DefaultQueue: 1}[q]; st.Pending != want {
				t.Errorf("Stats(%q).Pending = %d, want %d", q, st.Pending, want)
			}
		}
		plain := []tasks.Request{{Name: "echo", Options: tasks.Options{Queue: "other"}}, {Name: "echo"}}
		if _, err := s.client.SubmitBatch(ctx, plain); err != nil {
			t.Errorf("SubmitBatch(plain, two queues) = %v, want nil", err)
		}
	})
}

// TestCancelReleasesUnique: canceling a task deletes its unique key's
// claim from Redis (not only frees it), and leaves its idempotency key's.
func TestCancelReleasesUnique(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.register(t)
		ctx := context.Background()
		r := tasks.Request{Name: "echo", IdempotencyKey: "i", Unique: &tasks.Unique{Key: "u", Until: tasks.UntilFinished}}
		rec, err := s.client.Submit(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		claim := func(kind, key string) int64 {
			n, err := s.be.Client.Exists(ctx, s.be.Prefix+":{"+tasks.DefaultQueue+"}:"+kind+":"+key).Result()
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := claim("unique", "u"); n != 1 {
			t.Fatalf("Exists(unique claim) = %d before cancel, want 1", n)
		}
		if _, err := s.client.Cancel(ctx, rec.ID); err != nil {
			t.Fatal(err)
		}
		if n := claim("unique", "u"); n != 0 {
			t.Errorf("Exists(unique claim) = %d after cancel, want 0", n)
		}
		if n := claim("idem", "i"); n != 1 {
			t.Errorf("Exists(idempotency claim) = %d after cancel, want 1", n)
		}
		again, err := s.client.Submit(ctx, tasks.Request{Name: "echo", Unique: r.Unique})
		if err != nil || again.Replayed || again.ID == rec.ID {
			t.Errorf("Submit(same unique key) after cancel = %s replayed %v, %v; want a new task", again.ID, again.Replayed, err)
		}
	})
}
