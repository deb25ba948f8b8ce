package broker_test

import (
	"bytes"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
)

// tickTask is the task of a schedule's tick in queue q.
func tickTask(q string) *broker.NewTask {
	return &broker.NewTask{Name: "report", Queue: q, Payload: []byte(`{"n":1}`), MaxRetries: 2, Timeout: time.Minute, ResultTTL: time.Hour}
}

// TestTickCreatesOneTaskPerTick races 50 callers on one tick of one
// schedule, as 50 processes declaring it would: exactly one creates the
// task, and the task is the one Enqueue would have made.
func TestTickCreatesOneTaskPerTick(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		tick := time.Now().Truncate(time.Second)
		var wg sync.WaitGroup
		results := make([]broker.TickResult, 50)
		tasks := make([]*broker.NewTask, 50)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tasks[i] = tickTask("cron")
				r, err := s.b.Tick(s.ctx, "every second", tick, time.Second, tasks[i])
				if err != nil {
					t.Errorf("Tick: %v", err)
				}
				results[i] = r
			}()
		}
		wg.Wait()
		var created []uuid.UUID
		for i, r := range results {
			if r.State == broker.TickCreated {
				created = append(created, tasks[i].ID)
			} else if r.State != broker.TickRecorded || !r.Prev.Tick.Equal(tick) {
				t.Errorf("a losing Tick = %+v, want TickRecorded with the tick %v", r, tick)
			}
		}
		if len(created) != 1 {
			t.Fatalf("%d of 50 racing Ticks created the task, want 1", len(created))
		}
		if st := stats(t, s, "cron"); st.Pending != 1 {
			t.Errorf("Pending = %d, want 1", st.Pending)
		}
		if log := s.be.Client.LRange(s.ctx, s.b.LogKey("cron"), 0, -1).Val(); len(log) != 1 {
			t.Errorf("the queue's log holds %d IDs, want 1", len(log))
		}

		// The task is a submitted one: the same fields as Enqueue's.
		want := []broker.NewTask{*tickTask("cron")}
		if _, err := s.b.Enqueue(s.ctx, want); err != nil {
			t.Fatal(err)
		}
		got, err := s.b.Get(s.ctx, created[0])
		if err != nil {
			t.Fatal(err)
		}
		sub, err := s.b.Get(s.ctx, want[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		got.ID, got.CreatedAt, sub.ID, sub.CreatedAt = uuid.UUID{}, time.Time{}, uuid.UUID{}, time.Time{}
		if !bytes.Equal(got.Payload, sub.Payload) || got.Status != sub.Status || got.Name != sub.Name || got.Queue != sub.Queue ||
			got.MaxRetries != sub.MaxRetries || got.Timeout != sub.Timeout || got.ResultTTL != sub.ResultTTL {
			t.Errorf("ticked task = %+v, want a submitted one's %+v", got, sub)
		}
	})
}

// TestTickComparesWithTheLastTick asks for ticks out of order, again after
// a lost reply, and ahead of Redis's clock.
func TestTickComparesWithTheLastTick(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		t0 := time.Now().Truncate(time.Second).Add(-10 * time.Second)
		tick := func(at time.Time, task *broker.NewTask) broker.TickResult {
			t.Helper()
			r, err := s.b.Tick(s.ctx, "s", at, time.Second, task)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		first := tickTask("q")
		if r := tick(t0, first); r.State != broker.TickCreated || !r.Prev.Tick.IsZero() {
			t.Fatalf("first Tick = %+v, want TickCreated with no previous run", r)
		}
		// A resend of the call that created it (its reply lost) says so.
		if r := tick(t0, first); r.State != broker.TickCreated {
			t.Errorf("Tick resent with the same task = %+v, want TickCreated", r)
		}
		// A process whose clock is behind asks for that tick, or one
		// before it, after another process did: nothing is created.
		for _, at := range []time.Time{t0, t0.Add(-time.Second)} {
			if r := tick(at, tickTask("q")); r.State != broker.TickRecorded || r.Prev.Task != first.ID {
				t.Errorf("Tick(%v) after Tick(%v) = %+v, want TickRecorded, previous task %s", at, t0, r, first.ID)
			}
		}
		// A tick ahead of Redis's clock by more than the leeway: refused.
		if r := tick(time.Now().Add(time.Minute), tickTask("q")); r.State != broker.TickEarly || r.Now.IsZero() {
			t.Errorf("Tick a minute ahead = %+v, want TickEarly with Redis's time", r)
		}
		second := tickTask("q")
		if r := tick(t0.Add(5*time.Second), second); r.State != broker.TickCreated || !r.Prev.Tick.Equal(t0) || r.Prev.Task != first.ID {
			t.Errorf("a later Tick = %+v, want TickCreated after the run of %v, %s", r, t0, first.ID)
		}
		if st := stats(t, s, "q"); st.Pending != 2 {
			t.Errorf("Pending = %d, want 2 (one per tick)", st.Pending)
		}
		recs, err := s.b.Schedules(s.ctx, []string{"q"})
		if err != nil || len(recs) != 1 {
			t.Fatalf("Schedules = %+v, %v; want one", recs, err)
		}
		if r := recs[0]; r.ID != "s" || r.Info != nil || !r.Last.Tick.Equal(t0.Add(5*time.Second)) || r.Last.Task != second.ID ||
			time.Since(r.Declared) > time.Minute {
			t.Errorf("Schedules()[0] = %+v, want s, no info, last run %v of %s, declared now", r, t0.Add(5*time.Second), second.ID)
		}
	})
}

// TestDeclareSchedules declares schedules of two queues, reads back their
// last runs, and lists them.
func TestDeclareSchedules(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		tick := time.Now().Truncate(time.Second).Add(-time.Minute)
		task := tickTask("b")
		if _, err := s.b.Tick(s.ctx, "two", tick, time.Second, task); err != nil {
			t.Fatal(err)
		}
		ds := []broker.ScheduleDecl{
			{ID: "one", Queue: "a", Info: []byte(`{"id":"one"}`)},
			{ID: "two", Queue: "b", Info: []byte(`{"id":"two"}`)},
			{ID: "three", Queue: "a", Info: []byte(`{"id":"three"}`)},
		}
		runs, now, err := s.b.DeclareSchedules(s.ctx, ds)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(now); d > time.Minute || d < -time.Minute {
			t.Errorf("DeclareSchedules: Redis's time %v, want about now", now)
		}
		want := []broker.ScheduleRun{{}, {Tick: tick, Task: task.ID}, {}}
		if len(runs) != 3 || runs[0] != want[0] || !runs[1].Tick.Equal(tick) || runs[1].Task != task.ID || runs[2] != want[2] {
			t.Errorf("DeclareSchedules runs = %+v, want %+v", runs, want)
		}
		queues, err := s.b.Queues(s.ctx)
		if err != nil || !slices.Equal(queues, []string{"a", "b"}) {
			t.Errorf("Queues() = %v, %v; want [a b]", queues, err)
		}
		recs, err := s.b.Schedules(s.ctx, []string{"a", "b", "none"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.Queue+"/"+r.ID+" "+string(r.Info))
			// Each queue's script reads Redis's clock: the times differ by
			// the calls' running time.
			if d := r.Declared.Sub(now).Abs(); d > time.Second {
				t.Errorf("schedule %s declared at %v, want about %v", r.ID, r.Declared, now)
			}
		}
		wantList := []string{`a/one {"id":"one"}`, `a/three {"id":"three"}`, `b/two {"id":"two"}`}
		if !slices.Equal(got, wantList) {
			t.Errorf("Schedules() = %q, want %q", got, wantList)
		}
	})
}
