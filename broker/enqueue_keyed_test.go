package broker_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
)

// keyedTask is a task of queue q claiming keys.
func keyedTask(keys ...broker.KeyClaim) broker.NewTask {
	return broker.NewTask{Name: "echo", Queue: "q", Payload: []byte("null"), Timeout: time.Minute, ResultTTL: time.Hour, Keys: keys}
}

// enqueueKeyed enqueues t and returns its ID, or the conflict that
// refused it (nil when none).
func enqueueKeyed(t *testing.T, s bundle, nt broker.NewTask) (uuid.UUID, *broker.Conflict) {
	t.Helper()
	ts := []broker.NewTask{nt}
	_, err := s.b.Enqueue(s.ctx, ts)
	var ce *broker.ConflictError
	if errors.As(err, &ce) {
		return uuid.UUID{}, &ce.Conflicts[0]
	}
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	return ts[0].ID, nil
}

func TestIdempotencyKey(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		key := broker.KeyClaim{Kind: broker.KeyIdempotency, Key: "order-1", Digest: "d1", TTL: time.Hour}
		first, c := enqueueKeyed(t, s, keyedTask(key))
		if c != nil {
			t.Fatalf("first Enqueue with key: conflict %+v, want none", c)
		}
		if _, c := enqueueKeyed(t, s, keyedTask(key)); c == nil || c.Holder != first || c.Mismatch {
			t.Fatalf("second Enqueue with key: conflict %+v, want held by %s", c, first)
		}
		other := key
		other.Digest = "d2"
		if _, c := enqueueKeyed(t, s, keyedTask(other)); c == nil || c.Holder != first || !c.Mismatch {
			t.Fatalf("Enqueue with key, other request: conflict %+v, want a mismatch with %s", c, first)
		}
		if st := stats(t, s, "q"); st.Pending != 1 {
			t.Fatalf("Pending = %d, want 1", st.Pending)
		}
		// Canceled, the task keeps its idempotency key; gone, it frees it.
		if _, err := s.b.Cancel(s.ctx, first); err != nil {
			t.Fatal(err)
		}
		if _, c := enqueueKeyed(t, s, keyedTask(key)); c == nil || c.Holder != first {
			t.Fatalf("Enqueue with the key of a canceled task: conflict %+v, want held by %s", c, first)
		}
		s.be.Client.Del(s.ctx, s.b.TaskKey(first))
		if _, c := enqueueKeyed(t, s, keyedTask(key)); c != nil {
			t.Fatalf("Enqueue with the key of a task gone: conflict %+v, want none", c)
		}
	})
}

func TestIdempotencyKeyRace(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		const n = 50
		key := broker.KeyClaim{Kind: broker.KeyIdempotency, Key: "race", Digest: "d", TTL: time.Hour}
		ids := make([]uuid.UUID, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				ts := []broker.NewTask{keyedTask(key)}
				_, err := s.b.Enqueue(s.ctx, ts)
				var ce *broker.ConflictError
				switch {
				case errors.As(err, &ce):
					ids[i] = ce.Conflicts[0].Holder
				case err != nil:
					t.Errorf("Enqueue: %v", err)
				default:
					ids[i] = ts[0].ID
				}
			})
		}
		wg.Wait()
		for i, id := range ids {
			if id != ids[0] {
				t.Fatalf("submitter %d got %s, submitter 0 %s: want one task", i, id, ids[0])
			}
		}
		if st := stats(t, s, "q"); st.Pending != 1 {
			t.Fatalf("Pending after %d racing submitters = %d, want 1", n, st.Pending)
		}
	})
}

// TestUniqueRelease checks that each hold of a unique key ends with the
// state change that ends it, and not before.
func TestUniqueRelease(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind          broker.KeyKind
		afterStart    bool // still held once the holder started
		afterFinish   bool // still held once it succeeded
		releasedByTTL bool
	}{
		{broker.KeyUntilStarted, false, false, false},
		{broker.KeyUntilFinished, true, false, false},
		{broker.KeyUniqueFor, true, true, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			each(t, func(t *testing.T, s bundle) {
				key := broker.KeyClaim{Kind: tt.kind, Key: "u-" + string(tt.kind), TTL: time.Hour}
				holder, c := enqueueKeyed(t, s, keyedTask(key))
				if c != nil {
					t.Fatalf("first Enqueue: conflict %+v, want none", c)
				}
				if _, c := enqueueKeyed(t, s, keyedTask(key)); c == nil || c.Holder != holder {
					t.Fatalf("Enqueue while queued: conflict %+v, want held by %s", c, holder)
				}
				task := claimOne(t, s, "q", time.Minute)
				if _, c := enqueueKeyed(t, s, keyedTask(key)); (c != nil) != tt.afterStart {
					t.Fatalf("Enqueue once started: conflict %+v, want held %v", c, tt.afterStart)
				}
				if !tt.afterStart {
					return
				}
				if err := finish(s, broker.Finish{Claimed: &task, Outcome: broker.Succeeded, Result: []byte("1")}); err != nil {
					t.Fatal(err)
				}
				if _, c := enqueueKeyed(t, s, keyedTask(key)); (c != nil) != tt.afterFinish {
					t.Fatalf("Enqueue once finished: conflict %+v, want held %v", c, tt.afterFinish)
				}
				if !tt.releasedByTTL {
					return
				}
				s.be.Client.PExpire(s.ctx, s.be.Keys.Unique("q", key.Key), time.Millisecond)
				if s.be.Mini != nil {
					s.be.Mini.FastForward(time.Second)
				} else {
					time.Sleep(10 * time.Millisecond)
				}
				if _, c := enqueueKeyed(t, s, keyedTask(key)); c != nil {
					t.Fatalf("Enqueue once the hold expired: conflict %+v, want none", c)
				}
			})
		})
	}
}

func TestUniqueReleasedByCancel(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		for _, kind := range []broker.KeyKind{broker.KeyUniqueFor, broker.KeyUntilStarted, broker.KeyUntilFinished} {
			key := broker.KeyClaim{Kind: kind, Key: "c-" + string(kind), TTL: time.Hour}
			holder, _ := enqueueKeyed(t, s, keyedTask(key))
			if _, err := s.b.Cancel(s.ctx, holder); err != nil {
				t.Fatal(err)
			}
			if _, c := enqueueKeyed(t, s, keyedTask(key)); c != nil {
				t.Errorf("Enqueue with %q key of a canceled task: conflict %+v, want none", kind, c)
			}
		}
	})
}

// TestKeyedBatch checks a batch that mixes plain and keyed tasks, and
// that a batch refused for a conflict writes nothing.
func TestKeyedBatch(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		idem := broker.KeyClaim{Kind: broker.KeyIdempotency, Key: "b1", Digest: "d", TTL: time.Hour}
		uniq := broker.KeyClaim{Kind: broker.KeyUntilFinished, Key: "b2", TTL: time.Hour}
		batch := []broker.NewTask{keyedTask(), keyedTask(idem), keyedTask(uniq, idem2("b3"))}
		if _, err := s.b.Enqueue(s.ctx, batch); err != nil {
			t.Fatalf("Enqueue(batch) = %v", err)
		}
		// Resent with the same IDs: every task and claim is its own.
		if _, err := s.b.Enqueue(s.ctx, batch); err != nil {
			t.Fatalf("Enqueue(batch) resent = %v", err)
		}
		again := []broker.NewTask{keyedTask(), keyedTask(uniq), keyedTask(idem)}
		_, err := s.b.Enqueue(s.ctx, again)
		var ce *broker.ConflictError
		if !errors.As(err, &ce) || len(ce.Conflicts) != 2 {
			t.Fatalf("Enqueue(batch of held keys) = %v, want 2 conflicts", err)
		}
		holders := map[int]uuid.UUID{1: batch[2].ID, 2: batch[1].ID}
		for _, c := range ce.Conflicts {
			if want, ok := holders[c.Index]; !ok || c.Holder != want {
				t.Errorf("conflict %+v: want task 1 held by %s, task 2 by %s", c, holders[1], holders[2])
			}
		}
		if st := stats(t, s, "q"); st.Pending != 3 {
			t.Fatalf("Pending = %d, want 3: the refused batch wrote nothing", st.Pending)
		}
	})
}

func idem2(key string) broker.KeyClaim {
	return broker.KeyClaim{Kind: broker.KeyIdempotency, Key: key, Digest: "d", TTL: time.Hour}
}

// TestKeyedBatchAcrossQueues: a batch over two bounded queues whose task
// in one finds its key held writes nothing there, and gives back the
// places it held.
func TestKeyedBatchAcrossQueues(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		for _, q := range []string{"qa", "qb"} {
			bound(t, s, q, 10)
		}
		held := broker.KeyClaim{Kind: broker.KeyUniqueFor, Key: "x", TTL: time.Hour}
		first := keyedTask(held)
		first.Queue = "qa"
		if _, err := s.b.Enqueue(s.ctx, []broker.NewTask{first}); err != nil {
			t.Fatal(err)
		}
		a, b := keyedTask(held), keyedTask()
		a.Queue, b.Queue = "qa", "qb"
		_, err := s.b.Enqueue(s.ctx, []broker.NewTask{a, b})
		var ce *broker.ConflictError
		if !errors.As(err, &ce) || len(ce.Conflicts) != 1 || ce.Conflicts[0].Index != 0 {
			t.Fatalf("Enqueue(batch over two queues, one key held) = %v, want a conflict of task 0", err)
		}
		for _, q := range []string{"qa", "qb"} {
			if n := s.be.Client.ZCard(s.ctx, s.b.ReservedKey(q)).Val(); n != 0 {
				t.Errorf("places held in %s after the conflict = %d, want 0", q, n)
			}
		}
		if st := stats(t, s, "qa"); st.Pending != 1 {
			t.Errorf("Pending(qa) = %d, want 1: the task with the held key is not written", st.Pending)
		}
	})
}

// TestUniqueReleasedByExpiry: a holder whose record expired frees its key
// in every mode, even a hold for a time not yet over.
func TestUniqueReleasedByExpiry(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		for _, kind := range []broker.KeyKind{broker.KeyUniqueFor, broker.KeyUntilStarted, broker.KeyUntilFinished, broker.KeyIdempotency} {
			key := broker.KeyClaim{Kind: kind, Key: "e-" + string(kind), Digest: "d", TTL: time.Hour}
			holder, _ := enqueueKeyed(t, s, keyedTask(key))
			s.be.Client.PExpire(s.ctx, s.b.TaskKey(holder), time.Millisecond)
			if s.be.Mini != nil {
				s.be.Mini.FastForward(time.Second)
			} else {
				time.Sleep(10 * time.Millisecond)
			}
			if _, c := enqueueKeyed(t, s, keyedTask(key)); c != nil {
				t.Errorf("Enqueue with %q key of a task expired: conflict %+v, want none", kind, c)
			}
		}
	})
}
