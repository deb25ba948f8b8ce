package broker_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/internal/layout"
)

// expectEvent waits for want among the events, failing after a while.
func expectEvent(t *testing.T, evs <-chan broker.Event, want broker.Event) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-evs:
			if e == want {
				return
			}
		case <-deadline:
			t.Fatalf("no event %+v announced", want)
		}
	}
}

// noEvent checks that none of kind is announced for a moment.
func noEvent(t *testing.T, evs <-chan broker.Event, kind string) {
	t.Helper()
	deadline := time.After(200 * time.Millisecond)
	for {
		select {
		case e := <-evs:
			if e.Kind == kind {
				t.Fatalf("event %+v announced, want none of kind %s", e, kind)
			}
		case <-deadline:
			return
		}
	}
}

func update(t *testing.T, s bundle, queue string, u broker.SettingsUpdate) {
	t.Helper()
	if _, err := s.b.UpdateSettings(s.ctx, queue, u); err != nil {
		t.Fatal(err)
	}
}

func hgetKey(t *testing.T, s bundle, key, field string) string {
	t.Helper()
	v, err := s.be.Client.HGet(s.ctx, key, field).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	return v
}

func TestPausedQueueGivesNothing(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		for range 3 {
			enqueue(t, s, "q", "echo", 0)
		}
		_, ahead, err := s.b.Take(s.ctx, "q", 1, time.Minute, "")
		if err != nil || ahead == nil {
			t.Fatalf("Take = %v, %v", ahead, err)
		}
		yes, no := true, false
		update(t, s, "q", broker.SettingsUpdate{Paused: &yes})
		if c, got, err := s.b.Take(s.ctx, "q", 5, time.Minute, ""); !errors.Is(err, broker.ErrPaused) || got != nil || c != nil {
			t.Fatalf("Take of a paused queue = %v, %v, %v; want ErrPaused and nothing", c, got, err)
		}
		// A batch taken before the pause still starts; the take with it gives nothing.
		started, next, err := s.b.StartTake(s.ctx, ahead, 5, time.Minute)
		if !errors.Is(err, broker.ErrPaused) || next != nil || len(started) != 1 {
			t.Fatalf("StartTake on a paused queue = %d started, %v, %v; want the batch taken before and ErrPaused", len(started), next, err)
		}
		if st := stats(t, s, "q"); st.Pending != 2 || st.Leased != 1 {
			t.Fatalf("stats while paused = %+v, want 2 pending and the 1 started", st)
		}
		enqueue(t, s, "q", "echo", 0) // submissions still queue
		update(t, s, "q", broker.SettingsUpdate{Paused: &no})
		if got, err := claim(s, "q", 5, time.Minute); err != nil || len(got) != 3 {
			t.Errorf("claim after resume = %d tasks, %v; want 3", len(got), err)
		}
	})
}

func TestMaxRunningCapsTheQueue(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		evs := events(t, s)
		for range 5 {
			enqueue(t, s, "q", "echo", 0)
		}
		update(t, s, "q", broker.SettingsUpdate{MaxRunning: ptr(2)})
		got := claimN(t, s, "q", 2, time.Minute)
		if more, err := claim(s, "q", 5, time.Minute); !errors.Is(err, broker.ErrAtCap) || len(more) != 0 {
			t.Fatalf("claim at the cap = %d tasks, %v; want ErrAtCap", len(more), err)
		}
		running := s.be.Keys.Running("q")
		if n := hgetKey(t, s, running, "*"); n != "2" {
			t.Fatalf("running count = %q, want 2", n)
		}
		if err := finish(s, broker.Finish{Claimed: &got[0], Outcome: broker.Succeeded, Result: []byte("1")}); err != nil {
			t.Fatal(err)
		}
		expectEvent(t, evs, broker.Event{Kind: broker.EventSlot, Queue: "q"})
		if n := hgetKey(t, s, running, "*"); n != "1" {
			t.Fatalf("running count after a finish = %q, want 1", n)
		}
		// Below the cap, a take gives only what is free.
		third := claimN(t, s, "q", 1, time.Minute)
		if _, err := claim(s, "q", 5, time.Minute); !errors.Is(err, broker.ErrAtCap) {
			t.Fatalf("claim at the cap again = %v, want ErrAtCap", err)
		}
		// A retry and a release give their slots back too.
		if err := finish(s, broker.Finish{Claimed: &got[1], Outcome: broker.Retry, RetryIn: time.Hour, Error: "x"}); err != nil {
			t.Fatal(err)
		}
		if err := finish(s, broker.Finish{Claimed: &third[0], Outcome: broker.Release}); err != nil {
			t.Fatal(err)
		}
		if n := hgetKey(t, s, running, "*"); n != "" {
			t.Fatalf("running count after every slot came back = %q, want none", n)
		}
		if keys := s.be.Client.HKeys(s.ctx, running).Val(); len(keys) != 0 {
			t.Errorf("running hash after every lease ended = %v, want empty", keys)
		}
		// Unset: takes are no longer counted.
		update(t, s, "q", broker.SettingsUpdate{MaxRunning: ptr(0)})
		claimN(t, s, "q", 3, time.Minute)
		if n := hgetKey(t, s, running, "*"); n != "" {
			t.Errorf("running count without a cap = %q, want none", n)
		}
	})
}

// TestReapGivesSlotsBack lets a capped lease expire, half started: every
// task of it gives its slot back, those of the queue and of its name.
func TestReapGivesSlotsBack(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		evs := events(t, s)
		if err := s.b.SetLimits(s.ctx, "q", map[string]broker.NameLimit{"render": {MaxRunning: 1}}); err != nil {
			t.Fatal(err)
		}
		enqueue(t, s, "q", "render", 0)
		enqueue(t, s, "q", "echo", 0)
		held := enqueue(t, s, "q", "render", 0)
		update(t, s, "q", broker.SettingsUpdate{MaxRunning: ptr(3)})
		_, taken, err := s.b.Take(s.ctx, "q", 3, time.Minute, "")
		if err != nil || taken == nil || len(taken.IDs) != 3 {
			t.Fatalf("Take = %v, %v", taken, err)
		}
		// Start only the first two: the third stays taken, not started.
		part := *taken
		part.IDs = taken.IDs[:2]
		if got, _, err := s.b.StartTake(s.ctx, &part, 0, time.Minute); err != nil || len(got) != 2 {
			t.Fatalf("StartTake = %d, %v", len(got), err)
		}
		// The worker dies: its lease's deadline passes (set in the past
		// here, rather than waited for, so a slow run cannot expire it
		// before the start).
		if err := s.be.Client.ZAdd(s.ctx, s.be.Keys.Leases("q"), redis.Z{Score: 1, Member: taken.Token}).Err(); err != nil {
			t.Fatal(err)
		}
		running := s.be.Keys.Running("q")
		if a, b := hgetKey(t, s, running, "*"), hgetKey(t, s, running, "render"); a != "3" || b != "1" {
			t.Fatalf("running counts = %q, %q; want 3 and 1", a, b)
		}
		reapUntil(t, s, "q", 3, reaped{Requeued: 3})
		expectEvent(t, evs, broker.Event{Kind: broker.EventSlot, Queue: "q"})
		if keys := s.be.Client.HKeys(s.ctx, running).Val(); len(keys) != 0 {
			t.Errorf("running hash after the reap = %v, want empty", keys)
		}
		if hget(t, s, held, layout.FieldSlot) != "" {
			t.Error("a reaped task keeps its slot mark")
		}
		got, err := claim(s, "q", 3, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]int{}
		for _, c := range got {
			names[c.Name]++
		}
		if names["render"] != 1 || names["echo"] != 1 {
			t.Errorf("claim after the reap started %v, want 1 render and 1 echo (the other render held)", names)
		}
	})
}

func TestNameCapHoldsTasksOverIt(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		if err := s.b.SetLimits(s.ctx, "q", map[string]broker.NameLimit{"render": {MaxRunning: 1}}); err != nil {
			t.Fatal(err)
		}
		r1 := enqueue(t, s, "q", "render", 0)
		r2 := enqueue(t, s, "q", "render", 0)
		e1 := enqueue(t, s, "q", "echo", 0)
		r3 := enqueue(t, s, "q", "render", 0)
		got, err := claim(s, "q", 4, time.Minute) // of 4 taken: r2 and r3 are held
		if err != nil || len(got) != 2 || got[0].ID != r1 || got[1].ID != e1 {
			t.Fatalf("claim started %v, %v; want r1 %s and e1 %s", got, err, r1, e1)
		}
		c, err := s.b.Counts(s.ctx, "q")
		if err != nil {
			t.Fatal(err)
		}
		want := []broker.NameState{{Name: "render", NameLimit: broker.NameLimit{MaxRunning: 1}, Running: 1, Held: 2}}
		if c.Held != 2 || c.Pending != 0 || len(c.Names) != 1 || c.Names[0] != want[0] {
			t.Fatalf("Counts = held %d pending %d names %+v; want 2, 0, %+v", c.Held, c.Pending, c.Names, want)
		}
		for _, id := range []uuid.UUID{r2, r3} {
			if st, at := status(t, s, id), hget(t, s, id, layout.FieldAttempt); st != "queued" || at != "" {
				t.Errorf("held task: status %q, attempt %q; want queued and no attempt", st, at)
			}
		}
		// r1's end moves r2, the oldest held, to the head of the queue.
		enqueue(t, s, "q", "echo", 0)
		if err := finish(s, broker.Finish{Claimed: &got[0], Outcome: broker.Failed, Error: "x"}); err != nil {
			t.Fatal(err)
		}
		next := claimN(t, s, "q", 1, time.Minute)
		if next[0].ID != r2 || next[0].Attempts != 1 {
			t.Fatalf("claim after the slot freed = %s (attempt %d), want r2 %s at attempt 1", next[0].ID, next[0].Attempts, r2)
		}
		// Canceling a held task takes it out of the held set.
		if st, err := s.b.Cancel(s.ctx, r3); err != nil || st != "canceled" {
			t.Fatalf("Cancel of a held task = %s, %v", st, err)
		}
		if n := s.be.Client.ZCard(s.ctx, s.be.Keys.Held("q")).Val(); n != 0 {
			t.Errorf("held set after the cancel holds %d", n)
		}
		// Lifting the cap gives held tasks back at once.
		r4 := enqueue(t, s, "q", "render", 0)
		claimN(t, s, "q", 1, time.Minute) // the echo; r4 held
		if err := s.b.SetLimits(s.ctx, "q", map[string]broker.NameLimit{"render": {}}); err != nil {
			t.Fatal(err)
		}
		if last := claimN(t, s, "q", 1, time.Minute); last[0].ID != r4 {
			t.Errorf("claim after the cap was lifted = %s, want r4 %s", last[0].ID, r4)
		}
		if v := hgetKey(t, s, s.be.Keys.Settings("q"), "limits"); v != "" {
			t.Errorf("settings' limits flag with no limits left = %q, want none", v)
		}
	})
}

func TestRateBooksTurns(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		evs := events(t, s)
		if err := s.b.SetLimits(s.ctx, "q", map[string]broker.NameLimit{"mail": {Rate: 10, Per: time.Second}}); err != nil {
			t.Fatal(err)
		}
		var ids []uuid.UUID
		for range 4 {
			ids = append(ids, enqueue(t, s, "q", "mail", 0))
		}
		other := enqueue(t, s, "q", "echo", 0)
		got, err := claim(s, "q", 5, time.Minute) // of 5 taken: 3 mails wait for their turns
		if err != nil || len(got) != 2 || got[0].ID != ids[0] || got[1].ID != other {
			t.Fatalf("claim started %v, %v; want the first mail and the echo", got, err)
		}
		expectEvent(t, evs, broker.Event{Kind: broker.EventDue, Queue: "q", Arg: hget(t, s, ids[1], layout.FieldTurn)})
		var turns []float64
		for _, id := range ids[1:] {
			if st, at := status(t, s, id), hget(t, s, id, layout.FieldAttempt); st != "queued" || at != "" {
				t.Errorf("task waiting for its turn: status %q attempt %q, want queued and none", st, at)
			}
			score, err := s.be.Client.ZScore(s.ctx, s.b.ScheduledKey("q"), layout.IDText(id)).Result()
			if err != nil {
				t.Fatalf("a task over the rate is not scheduled: %v", err)
			}
			turns = append(turns, score)
		}
		for i := 1; i < len(turns); i++ {
			if d := turns[i] - turns[i-1]; d < 99 || d > 101 {
				t.Errorf("turns %v are not 100 ms apart", turns)
			}
		}
		// The first turn is one interval after the start (it may have
		// passed already on a slow run).
		if d := time.Until(time.UnixMilli(int64(turns[0]))); d > 150*time.Millisecond {
			t.Errorf("first turn in %v, want within 100 ms", d)
		}
		// Each comes back at its turn and starts on it (a slow run may find
		// two turns passed at once).
		promoted := 0
		for i, id := range ids[1:] {
			time.Sleep(time.Until(time.UnixMilli(int64(turns[i]))))
			m, err := s.b.Maintain(s.ctx, "q", 3)
			if promoted += m.Promoted; err != nil || promoted < i+1 {
				t.Fatalf("Maintain at turn %d = %+v, %v; want %d promoted by then", i, m, err, i+1)
			}
			c := claimN(t, s, "q", 1, time.Minute)
			if c[0].ID != id || c[0].Attempts != 1 || hget(t, s, id, layout.FieldTurn) != "" {
				t.Errorf("claim at turn %d = %s attempt %d (turn %q), want %s at attempt 1 and its turn used",
					i, c[0].ID, c[0].Attempts, hget(t, s, id, layout.FieldTurn), id)
			}
		}
	})
}

// TestLapsedTurnIsBookedAgain brings back a task long after its turn (as
// after a pause): it asks for a new turn rather than start with others
// whose turns lapsed too.
func TestLapsedTurnIsBookedAgain(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		if err := s.b.SetLimits(s.ctx, "q", map[string]broker.NameLimit{"mail": {Rate: 1, Per: time.Second}}); err != nil {
			t.Fatal(err)
		}
		enqueue(t, s, "q", "mail", 0)
		b := enqueue(t, s, "q", "mail", 0)
		c := enqueue(t, s, "q", "mail", 0)
		if got, err := claim(s, "q", 3, time.Minute); err != nil || len(got) != 1 { // b and c are booked 1 s and 2 s on
			t.Fatalf("claim = %d tasks, %v; want 1", len(got), err)
		}
		// Both come back now, their turns 10 s and 9 s past: one starts
		// (the rate's turn is free by then), the other is booked anew.
		past := float64(time.Now().Add(-10 * time.Second).UnixMilli())
		for i, id := range []uuid.UUID{b, c} {
			at := past + float64(i)*1000
			s.be.Client.HSet(s.ctx, s.b.TaskKey(id), layout.FieldTurn, int64(at))
			s.be.Client.HSet(s.ctx, s.be.Keys.Rate("q"), "mail", at+1000)
			s.be.Client.ZAdd(s.ctx, s.b.ScheduledKey("q"), redis.Z{Score: at, Member: layout.IDText(id)})
		}
		if m, err := s.b.Maintain(s.ctx, "q", 3); err != nil || m.Promoted != 2 {
			t.Fatalf("Maintain = %+v, %v; want 2 promoted", m, err)
		}
		got, err := claim(s, "q", 5, time.Minute)
		if err != nil || len(got) != 1 || got[0].ID != b {
			t.Fatalf("claim of two lapsed turns = %d tasks, %v; want b alone", len(got), err)
		}
		if score, err := s.be.Client.ZScore(s.ctx, s.b.ScheduledKey("q"), layout.IDText(c)).Result(); err != nil ||
			time.Until(time.UnixMilli(int64(score))) < 500*time.Millisecond {
			t.Errorf("the other lapsed task is scheduled at %v (%v), want a turn a second on", score, err)
		}
	})
}

func TestTakeAnnouncesRoom(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		evs := events(t, s)
		for range 5 {
			enqueue(t, s, "q", "echo", 0)
		}
		claimN(t, s, "q", 1, time.Minute) // no bound yet: nothing said
		// 4 queued, and a bound lowered under that: the queue is over it.
		update(t, s, "q", broker.SettingsUpdate{MaxLength: ptr(3)})
		if _, err := s.b.Enqueue(s.ctx, []broker.NewTask{{Name: "echo", Queue: "q", Payload: []byte(`1`)}}); !errors.Is(err, broker.ErrQueueFull) {
			t.Fatalf("Enqueue to a queue over its bound = %v, want ErrQueueFull", err)
		}
		claimN(t, s, "q", 1, time.Minute)
		noEvent(t, evs, broker.EventRoom) // 4 -> 3: still full
		claimN(t, s, "q", 1, time.Minute)
		expectEvent(t, evs, broker.Event{Kind: broker.EventRoom, Queue: "q"}) // 3 -> 2
		claimN(t, s, "q", 1, time.Minute)
		noEvent(t, evs, broker.EventRoom) // 2 -> 1: it had room already
	})
}

// TestGateKeysShareTheQueueSlot checks what take.lua reads from the name of
// the settings key: the events channel and the queue.
func TestGateKeysShareTheQueueSlot(t *testing.T) {
	t.Parallel()
	k := layout.Keys{Prefix: "app:runq.1"}
	settings := k.Settings("q.1")
	prefix, rest, _ := strings.Cut(settings, ":{")
	if prefix+":events" != k.Events() || rest != "q.1}:settings" {
		t.Errorf("settings key %q does not hold the events channel %q and the queue", settings, k.Events())
	}
}

// TestTakeLeavesAHeadToTheGate takes a lone task as a woken worker does,
// naming the head: in a queue whose names have limits, the take does not
// start it (it cannot know the keys the checks need), and the start that
// follows applies the name's cap.
func TestTakeLeavesAHeadToTheGate(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		if err := s.b.SetLimits(s.ctx, "q", map[string]broker.NameLimit{"render": {MaxRunning: 1}}); err != nil {
			t.Fatal(err)
		}
		var started []broker.Claimed
		for i := range 2 {
			id := enqueue(t, s, "q", "render", 0)
			got, rest, err := s.b.Take(s.ctx, "q", 5, time.Minute, layout.IDText(id))
			if err != nil || len(got) != 0 || rest == nil || len(rest.IDs) != 1 {
				t.Fatalf("Take with the head = %v, %v, %v; want it taken, not started", got, rest, err)
			}
			got, _, err = s.b.StartTake(s.ctx, rest, 0, time.Minute)
			if err != nil || len(got) != 1-i {
				t.Fatalf("StartTake of render %d = %v, %v; want %d started (cap 1)", i, got, err, 1-i)
			}
			started = append(started, got...)
		}
		if n := s.be.Client.ZCard(s.ctx, s.be.Keys.Held("q")).Val(); n != 1 {
			t.Fatalf("held tasks = %d, want the second render", n)
		}
		if err := finish(s, broker.Finish{Claimed: &started[0], Outcome: broker.Succeeded, Result: []byte("1")}); err != nil {
			t.Fatal(err)
		}
		if next := claimN(t, s, "q", 1, time.Minute); next[0].Name != "render" {
			t.Errorf("claim after the first render ended = %+v, want the held render", next[0])
		}
	})
}

// TestPurgeQueuedTakesHeldTasks purges the queued tasks of a queue some of
// whose tasks are held for a slot of their name: they go too.
func TestPurgeQueuedTakesHeldTasks(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		if err := s.b.SetLimits(s.ctx, "q", map[string]broker.NameLimit{"render": {MaxRunning: 1}}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			enqueue(t, s, "q", "render", 0)
		}
		if got, err := claim(s, "q", 3, time.Minute); err != nil || len(got) != 1 {
			t.Fatalf("claim = %d, %v; want 1 started, 2 held", len(got), err)
		}
		enqueue(t, s, "q", "echo", 0)
		n, err := s.b.Purge(s.ctx, "q", "queued")
		if err != nil || n != 3 {
			t.Fatalf("Purge(queued) = %d, %v; want the 2 held and the 1 in the list", n, err)
		}
		if c := s.be.Client.ZCard(s.ctx, s.be.Keys.Held("q")).Val(); c != 0 {
			t.Errorf("held set after the purge holds %d", c)
		}
	})
}
