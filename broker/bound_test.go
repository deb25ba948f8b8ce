package broker_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/internal/layout"
)

// bound sets queue's max_length.
func bound(t *testing.T, s bundle, queue string, n int) {
	t.Helper()
	if _, err := s.b.UpdateSettings(s.ctx, queue, broker.SettingsUpdate{MaxLength: &n}); err != nil {
		t.Fatalf("UpdateSettings(%s, max_length %d): %v", queue, n, err)
	}
}

// newTasks returns n tasks of queue with IDs of their own, not yet queued.
func newTasks(t *testing.T, queue string, n int) []broker.NewTask {
	t.Helper()
	ts := make([]broker.NewTask, n)
	for i := range ts {
		ts[i] = broker.NewTask{Name: "echo", Queue: queue, Payload: []byte(fmt.Sprintf(`{"i":%d}`, i)),
			Timeout: time.Minute, ResultTTL: time.Hour}
	}
	return ts
}

// withIDs gives each task of ts an ID, as Enqueue would; Hold and
// EnqueueHeld take the IDs they are given.
func withIDs(t *testing.T, ts []broker.NewTask) []broker.NewTask {
	t.Helper()
	for i := range ts {
		id, err := layout.NewID(ts[i].Queue)
		if err != nil {
			t.Fatal(err)
		}
		ts[i].ID = id
	}
	return ts
}

// mustEnqueue queues ts, failing the test if it cannot.
func mustEnqueue(t *testing.T, s bundle, ts []broker.NewTask) {
	t.Helper()
	if _, err := s.b.Enqueue(s.ctx, ts); err != nil {
		t.Fatalf("Enqueue of %d tasks into %s: %v", len(ts), ts[0].Queue, err)
	}
}

// pending returns the IDs in queue's pending list.
func pending(t *testing.T, s bundle, queue string) []string {
	t.Helper()
	ids, err := s.be.Client.LRange(s.ctx, s.b.PendingKey(queue), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// exists reports whether task id has a hash.
func exists(t *testing.T, s bundle, id uuid.UUID) bool {
	t.Helper()
	n, err := s.be.Client.Exists(s.ctx, s.b.TaskKey(id)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// wantFull checks that err is queue's *FullError with max_length max.
func wantFull(t *testing.T, op string, err error, queue string, max int) {
	t.Helper()
	var fe *broker.FullError
	if !errors.Is(err, broker.ErrQueueFull) || !errors.As(err, &fe) || fe.Queue != queue || fe.MaxLength != max {
		t.Fatalf("%s = %v, want the FullError of %s, max_length %d", op, err, queue, max)
	}
}

// TestBoundNoOvershoot races 50 submitters at a queue with max_length 10
// and no worker: exactly 10 get in, 40 are refused, and nothing of theirs
// is written.
func TestBoundNoOvershoot(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		bound(t, s, "q", 10)
		var mu sync.Mutex
		var accepted, refused []uuid.UUID
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ts := newTasks(t, "q", 1)
				ts[0].Payload = []byte(fmt.Sprintf(`{"submitter":%d}`, i))
				<-start
				_, err := s.b.Enqueue(s.ctx, ts)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					accepted = append(accepted, ts[0].ID)
				case errors.Is(err, broker.ErrQueueFull):
					refused = append(refused, ts[0].ID)
				default:
					t.Errorf("Enqueue = %v, want nil or ErrQueueFull", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(accepted) != 10 || len(refused) != 40 {
			t.Fatalf("50 racing submitters: %d accepted, %d refused; want 10 and 40", len(accepted), len(refused))
		}
		if n := s.be.Client.LLen(s.ctx, s.b.PendingKey("q")).Val(); n != 10 {
			t.Errorf("LLEN pending = %d, want 10", n)
		}
		if n := s.be.Client.LLen(s.ctx, s.b.LogKey("q")).Val(); n != 10 {
			t.Errorf("LLEN log = %d, want 10", n)
		}
		for _, id := range refused {
			if exists(t, s, id) {
				t.Errorf("refused task %s has a hash", id)
			}
		}
	})
}

// TestBoundEachInOneFlush: submissions of several callers that share one
// script call are taken in order while there is room; the rest are
// refused on their own.
func TestBoundEachInOneFlush(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		bound(t, s, "q", 3)
		ts := append(newTasks(t, "q", 5), newTasks(t, "other", 2)...)
		created, full, err := s.b.EnqueueEach(s.ctx, ts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ts {
			wantIn := i < 3 || ts[i].Queue == "other"
			if got := full[i] == 0 && !created[i].IsZero(); got != wantIn || (!wantIn && full[i] != 3) {
				t.Errorf("task %d of %s: created %v, full %d; want queued %v", i, ts[i].Queue, created[i], full[i], wantIn)
			}
			if exists(t, s, ts[i].ID) != wantIn {
				t.Errorf("task %d of %s: hash exists %v, want %v", i, ts[i].Queue, !wantIn, wantIn)
			}
		}
		if got := len(pending(t, s, "q")); got != 3 {
			t.Errorf("pending of q holds %d, want 3", got)
		}
	})
}

// TestBoundBatchAllOrNothing: a batch into one bounded queue is refused
// whole when it would pass max_length, and a resent batch needs no room.
func TestBoundBatchAllOrNothing(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		bound(t, s, "q", 10)
		mustEnqueue(t, s, newTasks(t, "q", 7))
		four := newTasks(t, "q", 4)
		_, err := s.b.Enqueue(s.ctx, four)
		wantFull(t, "Enqueue of 4 into 7 of 10", err, "q", 10)
		for _, tk := range four {
			if exists(t, s, tk.ID) {
				t.Errorf("task %s of the refused batch has a hash", tk.ID)
			}
		}
		three := newTasks(t, "q", 3)
		first, err := s.b.Enqueue(s.ctx, three)
		if err != nil {
			t.Fatalf("Enqueue of 3 into 7 of 10 = %v, want them queued", err)
		}
		// The queue is full; the same batch sent again (its answer lost)
		// queues nothing and is not refused.
		again, err := s.b.Enqueue(s.ctx, three)
		if err != nil || !slices.Equal(again, first) {
			t.Errorf("resent batch = %v, %v; want its first creation times %v", again, err, first)
		}
		if got := len(pending(t, s, "q")); got != 10 {
			t.Errorf("pending holds %d, want 10", got)
		}
		_, err = s.b.Enqueue(s.ctx, newTasks(t, "q", 1))
		wantFull(t, "Enqueue into a full queue", err, "q", 10)
	})
}

// TestBoundBatchAcrossQueues: a batch spanning several queues is queued in
// all of them or in none, and leaves no place held either way.
func TestBoundBatchAcrossQueues(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		bound(t, s, "a", 5)
		mustEnqueue(t, s, newTasks(t, "a", 4))
		batch := append(newTasks(t, "free", 2), newTasks(t, "a", 2)...)
		_, err := s.b.Enqueue(s.ctx, batch)
		wantFull(t, "Enqueue of 2 into free and 2 into a (4 of 5)", err, "a", 5)
		if got := len(pending(t, s, "free")); got != 0 {
			t.Errorf("unbounded queue free holds %d of a refused batch, want 0", got)
		}
		for _, tk := range batch {
			if exists(t, s, tk.ID) {
				t.Errorf("task %s of the refused batch has a hash", tk.ID)
			}
		}
		batch = append(newTasks(t, "free", 2), newTasks(t, "a", 1)...)
		if _, err := s.b.Enqueue(s.ctx, batch); err != nil {
			t.Fatalf("Enqueue of 2 into free and 1 into a = %v, want them queued", err)
		}
		if a, free := len(pending(t, s, "a")), len(pending(t, s, "free")); a != 5 || free != 2 {
			t.Errorf("pending a, free = %d, %d; want 5, 2", a, free)
		}
		for _, q := range []string{"a", "free"} {
			if n := s.be.Client.Exists(s.ctx, s.b.ReservedKey(q)).Val(); n != 0 {
				t.Errorf("places held in %s after the batches: %d keys, want none", q, n)
			}
		}
	})
}

// TestBoundHeldPlacesRefuseOthers: between a batch's two round trips, the
// places it holds count against max_length, so a racing submission is
// refused and the batch's second round trip cannot be.
func TestBoundHeldPlacesRefuseOthers(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		bound(t, s, "a", 3)
		bound(t, s, "b", 3)
		batch := withIDs(t, append(newTasks(t, "a", 2), newTasks(t, "b", 3)...))
		bounds, err := s.b.Hold(s.ctx, batch)
		if err != nil {
			t.Fatalf("Hold: %v", err)
		}
		if _, err := s.b.Enqueue(s.ctx, newTasks(t, "a", 1)); err != nil {
			t.Fatalf("Enqueue into a, 2 of 3 held: %v, want it queued", err)
		}
		_, err = s.b.Enqueue(s.ctx, newTasks(t, "a", 1))
		wantFull(t, "Enqueue into a, 2 held and 1 queued of 3", err, "a", 3)
		_, err = s.b.Enqueue(s.ctx, newTasks(t, "b", 1))
		wantFull(t, "Enqueue into b, 3 of 3 held", err, "b", 3)
		if err := s.b.EnqueueHeld(s.ctx, batch, bounds); err != nil {
			t.Fatalf("EnqueueHeld: %v", err)
		}
		if a, b := len(pending(t, s, "a")), len(pending(t, s, "b")); a != 3 || b != 3 {
			t.Errorf("pending a, b = %d, %d; want 3, 3", a, b)
		}
		if n := s.be.Client.ZCard(s.ctx, s.b.ReservedKey("a")).Val() + s.be.Client.ZCard(s.ctx, s.b.ReservedKey("b")).Val(); n != 0 {
			t.Errorf("%d places still held once the batch is queued, want 0", n)
		}
	})
}

// TestBoundExpiredHoldFreesRoom: places held by a batch whose process died
// between its round trips stop counting once expired.
func TestBoundExpiredHoldFreesRoom(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		bound(t, s, "q", 2)
		now, err := s.be.Client.Time(s.ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		held := s.b.ReservedKey("q")
		s.be.Client.ZAdd(s.ctx, held, redis.Z{Score: float64(now.Add(-time.Second).UnixMilli()), Member: "dead:1"},
			redis.Z{Score: float64(now.Add(time.Hour).UnixMilli()), Member: "live:1"})
		if _, err := s.b.Enqueue(s.ctx, newTasks(t, "q", 1)); err != nil {
			t.Fatalf("Enqueue with one live and one expired place held of 2: %v, want it queued", err)
		}
		_, err = s.b.Enqueue(s.ctx, newTasks(t, "q", 1))
		wantFull(t, "Enqueue with one live place held and one queued of 2", err, "q", 2)
	})
}

// TestBoundUnsetAndRoom: unsetting max_length lifts the bound; Room reads
// what is left of it.
func TestBoundUnsetAndRoom(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		bound(t, s, "q", 2)
		mustEnqueue(t, s, newTasks(t, "q", 2))
		bound(t, s, "half", 4)
		mustEnqueue(t, s, newTasks(t, "half", 1))
		room, err := s.b.Room(s.ctx, []string{"q", "half", "free"})
		if want := []int{0, 3, -1}; err != nil || !slices.Equal(room, want) {
			t.Errorf("Room(q, half, free) = %v, %v; want %v", room, err, want)
		}
		bound(t, s, "q", 0)
		if _, err := s.b.Enqueue(s.ctx, newTasks(t, "q", 5)); err != nil {
			t.Errorf("Enqueue once max_length is unset: %v", err)
		}
		// Lowered under the length: nothing is dropped, nothing gets in.
		bound(t, s, "q", 3)
		_, err = s.b.Enqueue(s.ctx, newTasks(t, "q", 1))
		wantFull(t, "Enqueue into 7 of max_length 3", err, "q", 3)
		if room, _ := s.b.Room(s.ctx, []string{"q"}); room[0] != 0 {
			t.Errorf("Room of an overfull queue = %d, want 0", room[0])
		}
	})
}

// TestHoldResentKeepsItsPlaces sends a batch's hold twice under one token,
// as scriptPipeline resends the whole pipeline after a NOSCRIPT in any of
// its calls: the second finds its places held and returns them, rather
// than counting them against its own room (a queue of max_length 1 would
// then refuse the batch and leave its place held until it expired).
func TestHoldResentKeepsItsPlaces(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		bound(t, s, "a", 1)
		bound(t, s, "b", 5)
		ts := withIDs(t, append(newTasks(t, "a", 1), newTasks(t, "b", 2)...))
		first, err := s.b.HoldAs(s.ctx, "tok", ts)
		if err != nil || len(first) != 2 || first[0] != "tok:1" || first[1] != "tok:2" {
			t.Fatalf("Hold = %v, %v; want [tok:1 tok:2]", first, err)
		}
		again, err := s.b.HoldAs(s.ctx, "tok", ts)
		if err != nil || !slices.Equal(again, first) {
			t.Fatalf("Hold resent = %v, %v; want %v, the places already held", again, err, first)
		}
		for q, want := range map[string]int64{"a": 1, "b": 2} {
			if n := s.be.Client.ZCard(s.ctx, s.b.ReservedKey(q)).Val(); n != want {
				t.Errorf("places held in %s after the resend = %d, want %d", q, n, want)
			}
		}
		if err := s.b.EnqueueHeld(s.ctx, ts, again); err != nil {
			t.Fatalf("EnqueueHeld: %v", err)
		}
		for _, q := range []string{"a", "b"} {
			if n := s.be.Client.ZCard(s.ctx, s.b.ReservedKey(q)).Val(); n != 0 {
				t.Errorf("places still held in %s after the batch was written = %d, want 0", q, n)
			}
		}
	})
}

// TestBoundBatchesRaceAcrossQueues races batches spanning two bounded
// queues with single submissions to each: no queue passes its bound, and
// every batch is queued in both queues or in neither.
func TestBoundBatchesRaceAcrossQueues(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		bound(t, s, "a", 6)
		bound(t, s, "b", 6)
		type outcome struct {
			ts  []broker.NewTask
			err error
		}
		out := make(chan outcome, 40)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ts := append(newTasks(t, "a", 1), newTasks(t, "b", 1)...)
				if i%2 == 1 {
					ts = newTasks(t, []string{"a", "b"}[i/2%2], 1)
				}
				<-start
				_, err := s.b.Enqueue(s.ctx, ts)
				out <- outcome{ts, err}
			}()
		}
		close(start)
		wg.Wait()
		close(out)
		for o := range out {
			if o.err != nil && !errors.Is(o.err, broker.ErrQueueFull) {
				t.Fatalf("Enqueue = %v, want nil or ErrQueueFull", o.err)
			}
			for _, tk := range o.ts {
				if got := exists(t, s, tk.ID); got != (o.err == nil) {
					t.Errorf("task %s of a call that returned %v: hash exists %v", tk.ID, o.err, got)
				}
			}
		}
		for _, q := range []string{"a", "b"} {
			if n := len(pending(t, s, q)); n > 6 {
				t.Errorf("pending of %s holds %d, over its max_length 6", q, n)
			}
			if n := s.be.Client.ZCard(s.ctx, s.b.ReservedKey(q)).Val(); n != 0 {
				t.Errorf("%d places still held in %s, want 0", n, q)
			}
		}
	})
}

// TestBoundLetsDelayedTasksIn: tasks held back for later need no room, in a
// batch or alone, and a batch's immediate tasks must all fit beside them.
func TestBoundLetsDelayedTasksIn(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		bound(t, s, "q", 2)
		later := func(n int) []broker.NewTask {
			ts := newTasks(t, "q", n)
			for i := range ts {
				ts[i].Delay = time.Hour
			}
			return ts
		}
		mixed := append(newTasks(t, "q", 2), later(3)...)
		if _, err := s.b.Enqueue(s.ctx, mixed); err != nil {
			t.Fatalf("Enqueue of 2 now and 3 later into an empty queue of 2 = %v, want them in", err)
		}
		if got := len(pending(t, s, "q")); got != 2 {
			t.Errorf("pending holds %d, want the 2 immediate tasks", got)
		}
		if _, err := s.b.Enqueue(s.ctx, later(1)); err != nil {
			t.Errorf("Enqueue of one task for later into a full queue = %v, want it scheduled", err)
		}
		refused := append(newTasks(t, "q", 1), later(1)...)
		_, err := s.b.Enqueue(s.ctx, refused)
		wantFull(t, "Enqueue of 1 now and 1 later into a full queue", err, "q", 2)
		for _, tk := range refused {
			if exists(t, s, tk.ID) {
				t.Errorf("task %s of the refused batch has a hash", tk.ID)
			}
		}
		if n := s.be.Client.ZCard(s.ctx, s.b.ScheduledKey("q")).Val(); n != 4 {
			t.Errorf("scheduled holds %d, want the 4 tasks for later", n)
		}
	})
}
