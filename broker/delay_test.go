package broker_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/internal/layout"
	"github.com/runq/runq/results"
)

// enqueueAll enqueues ts in one call and returns their IDs and creation
// times.
func enqueueAll(t *testing.T, s bundle, ts ...broker.NewTask) ([]uuid.UUID, []time.Time) {
	t.Helper()
	for i := range ts {
		ts[i].Payload, ts[i].Timeout, ts[i].ResultTTL = []byte(`1`), time.Minute, time.Hour
		if ts[i].Name == "" {
			ts[i].Name = "echo"
		}
	}
	created, err := s.b.Enqueue(s.ctx, ts)
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	ids := make([]uuid.UUID, len(ts))
	for i := range ts {
		ids[i] = ts[i].ID
	}
	return ids, created
}

// events follows the events channel of s until the test ends.
func events(t *testing.T, s bundle) <-chan broker.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(s.ctx)
	out := make(chan broker.Event, 100)
	subscribed := make(chan struct{}, 10) // one per (re)subscription
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.b.Events(ctx, func(e broker.Event) { out <- e }, func() { subscribed <- struct{}{} })
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-subscribed:
	case <-time.After(5 * time.Second):
		t.Fatal("Events never subscribed")
	}
	return out
}

// listed returns the IDs in a list key, as IDText.
func listed(t *testing.T, s bundle, key string) []string {
	t.Helper()
	ids, err := s.be.Client.LRange(s.ctx, key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func texts(ids ...uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = layout.IDText(id)
	}
	return out
}

func TestDelayedTaskIsScheduledThenQueued(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ids, created := enqueueAll(t, s, broker.NewTask{Queue: "q", Delay: 300 * time.Millisecond})
		id := ids[0]
		rec, err := s.b.Get(s.ctx, id)
		want := created[0].Add(300 * time.Millisecond)
		if err != nil || rec.Status != results.StatusScheduled || !rec.RunAt.Equal(want) {
			t.Fatalf("Get after a delayed Enqueue = %s run_at %v, %v; want scheduled, run_at %v (created + delay, Redis clock)",
				rec.Status, rec.RunAt, err, want)
		}
		if got := listed(t, s, s.b.PendingKey("q")); len(got) != 0 {
			t.Fatalf("pending = %v, want nothing before the task is due", got)
		}
		if got := listed(t, s, s.b.LogKey("q")); !slices.Equal(got, texts(id)) {
			t.Fatalf("log = %v, want the task listed", got)
		}
		score, err := s.be.Client.ZScore(s.ctx, s.b.ScheduledKey("q"), layout.IDText(id)).Result()
		if err != nil || int64(score) != want.UnixMilli() {
			t.Fatalf("ZSCORE in scheduled = %v, %v; want %d", score, err, want.UnixMilli())
		}
		if st := stats(t, s, "q"); st.Scheduled != 1 {
			t.Errorf("Stats = %+v, want 1 scheduled", st)
		}

		m, err := s.b.Maintain(s.ctx, "q", 3)
		if err != nil || m.Promoted != 0 || !m.NextDue.Equal(want) || m.NextIn <= 0 || m.NextIn > 300*time.Millisecond {
			t.Fatalf("Maintain before due = %+v, %v; want nothing promoted, next due %v in at most 300ms", m, err, want)
		}
		time.Sleep(m.NextIn)
		if m, err = s.b.Maintain(s.ctx, "q", 3); err != nil || m.Promoted != 1 || !m.NextDue.IsZero() || m.NextIn != 0 {
			t.Fatalf("Maintain once due = %+v, %v; want 1 promoted, none next", m, err)
		}
		rec, err = s.b.Get(s.ctx, id)
		if err != nil || rec.Status != results.StatusQueued || !rec.RunAt.Equal(want) {
			t.Fatalf("Get once promoted = %s run_at %v, %v; want queued, run_at kept", rec.Status, rec.RunAt, err)
		}
		c := claimOne(t, s, "q", time.Minute)
		if c.ID != id || c.Attempts != 1 {
			t.Fatalf("claim = %+v, want the delayed task at attempt 1", c)
		}
		if got := status(t, s, id); got != "running" {
			t.Errorf("status once claimed = %q, want running", got)
		}
	})
}

func TestRunAtInThePastQueuesAtOnce(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ids, created := enqueueAll(t, s, broker.NewTask{Queue: "q", RunAt: time.Now().Add(-time.Hour)},
			broker.NewTask{Queue: "q", RunAt: time.Unix(0, 0)})
		for i, id := range ids {
			rec, err := s.b.Get(s.ctx, id)
			if err != nil || rec.Status != results.StatusQueued || !rec.RunAt.IsZero() {
				t.Errorf("Get(run_at in the past) = %s run_at %v, %v; want queued, no run_at", rec.Status, rec.RunAt, err)
			}
			if _, later := (broker.NewTask{RunAt: time.Now().Add(-time.Hour)}).Due(created[i]); later {
				t.Error("Due(run_at in the past) reports later")
			}
		}
		if got := listed(t, s, s.b.PendingKey("q")); !slices.Equal(got, texts(ids...)) {
			t.Errorf("pending = %v, want %v", got, texts(ids...))
		}
	})
}

// TestBatchMixesDelayedAndImmediate: in one call, the immediate tasks join
// the list in order, the delayed ones the scheduled set, all the log, and
// each record reads as NewTask.Due says.
func TestBatchMixesDelayedAndImmediate(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		at := time.Now().Add(time.Hour).Truncate(time.Millisecond)
		ts := []broker.NewTask{
			{Queue: "q"},
			{Queue: "q", Delay: 2 * time.Hour},
			{Queue: "other", RunAt: at},
			{Queue: "q"},
			{Queue: "q", RunAt: at},
			{Queue: "other"},
		}
		ids, created := enqueueAll(t, s, ts...)
		if got, want := listed(t, s, s.b.PendingKey("q")), texts(ids[0], ids[3]); !slices.Equal(got, want) {
			t.Errorf("pending of q = %v, want %v", got, want)
		}
		if got, want := listed(t, s, s.b.PendingKey("other")), texts(ids[5]); !slices.Equal(got, want) {
			t.Errorf("pending of other = %v, want %v", got, want)
		}
		if got, want := listed(t, s, s.b.LogKey("q")), texts(ids[0], ids[1], ids[3], ids[4]); !slices.Equal(got, want) {
			t.Errorf("log of q = %v, want %v", got, want)
		}
		if got, want := s.be.Client.ZRange(s.ctx, s.b.ScheduledKey("q"), 0, -1).Val(), texts(ids[4], ids[1]); !slices.Equal(got, want) {
			t.Errorf("scheduled of q = %v, want %v (by time)", got, want)
		}
		for i, id := range ids {
			rec, err := s.b.Get(s.ctx, id)
			wantAt, later := ts[i].Due(created[i])
			wantStatus := results.StatusQueued
			if later {
				wantStatus = results.StatusScheduled
			}
			if err != nil || rec.Status != wantStatus || !rec.RunAt.Equal(wantAt) {
				t.Errorf("task %d: Get = %s run_at %v, %v; want %s run_at %v", i, rec.Status, rec.RunAt, err, wantStatus, wantAt)
			}
		}
		if _, at4 := ts[4].Due(created[4]); !at4 {
			t.Error("Due(run_at in an hour) does not report later")
		}

		// Resent, the batch changes nothing.
		if _, err := s.b.Enqueue(s.ctx, ts); err != nil {
			t.Fatal(err)
		}
		if n := s.be.Client.ZCard(s.ctx, s.b.ScheduledKey("q")).Val(); n != 2 {
			t.Errorf("scheduled after a resend = %d, want 2", n)
		}
		if got := listed(t, s, s.b.PendingKey("q")); len(got) != 2 {
			t.Errorf("pending after a resend = %v, want 2 IDs", got)
		}
	})
}

// TestDueEventOnlyForAnEarlierTask: a task scheduled earlier than every
// other of its queue is announced, with its time; a later one is not.
func TestDueEventOnlyForAnEarlierTask(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		evs := events(t, s)
		next := func(what string) broker.Event {
			t.Helper()
			select {
			case e := <-evs:
				return e
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: no event", what)
			}
			return broker.Event{}
		}
		hour := time.Now().Add(time.Hour).Truncate(time.Millisecond)
		enqueueAll(t, s, broker.NewTask{Queue: "q", RunAt: hour})
		if e := next("first"); e != (broker.Event{Kind: broker.EventDue, Queue: "q", Arg: strconv.FormatInt(hour.UnixMilli(), 10)}) {
			t.Errorf("event of the first scheduled task = %+v, want due q %d", e, hour.UnixMilli())
		}
		enqueueAll(t, s, broker.NewTask{Queue: "q", RunAt: hour.Add(time.Hour)}, broker.NewTask{Queue: "q"})
		soon := hour.Add(-30 * time.Minute)
		enqueueAll(t, s, broker.NewTask{Queue: "q", RunAt: hour.Add(time.Minute)}, broker.NewTask{Queue: "q", RunAt: soon})
		if e := next("earlier"); e != (broker.Event{Kind: broker.EventDue, Queue: "q", Arg: strconv.FormatInt(soon.UnixMilli(), 10)}) {
			t.Errorf("event of an earlier task = %+v, want due q %d (the later task announced nothing)", e, soon.UnixMilli())
		}
		enqueueAll(t, s, broker.NewTask{Queue: "q", Delay: 10 * time.Hour}, broker.NewTask{Queue: "q", RunAt: time.Unix(0, 0)})
		select {
		case e := <-evs:
			t.Errorf("event %+v for tasks not earlier than the first scheduled", e)
		case <-time.After(100 * time.Millisecond):
		}
	})
}

func TestCancelScheduled(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ids, _ := enqueueAll(t, s, broker.NewTask{Queue: "q", Delay: time.Hour})
		if st, err := s.b.Cancel(s.ctx, ids[0]); err != nil || st != results.StatusCanceled {
			t.Fatalf("Cancel(scheduled) = %q, %v; want canceled", st, err)
		}
		if n := s.be.Client.ZCard(s.ctx, s.b.ScheduledKey("q")).Val(); n != 0 {
			t.Errorf("scheduled after Cancel holds %d, want 0", n)
		}
		expiresWithResultTTL(t, s, ids[0])
		// Retry of the canceled task queues it at once.
		if st, err := s.b.Retry(s.ctx, ids[0]); err != nil || st != broker.StatusRetried {
			t.Fatalf("Retry(canceled scheduled task) = %q, %v; want retried", st, err)
		}
		if c := claimOne(t, s, "q", time.Minute); c.ID != ids[0] {
			t.Errorf("claim after Retry = %s, want %s", c.ID, ids[0])
		}
	})
}

// TestPromoteRacesAndKeepsStatuses: many maintainers promote the same due
// tasks at once; each lands in the list once. A task held back becomes
// queued, a retry stays retrying, a queued one stays queued.
func TestPromoteRacesAndKeepsStatuses(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ts := make([]broker.NewTask, 200)
		for i := range ts {
			ts[i] = broker.NewTask{Queue: "q", Delay: 50 * time.Millisecond}
		}
		ids, _ := enqueueAll(t, s, ts...)
		retry := enqueue(t, s, "q", "echo", 3)
		c := claimOne(t, s, "q", time.Minute)
		if err := finish(s, broker.Finish{Claimed: &c, Outcome: broker.Retry, Error: "boom", RetryIn: 50 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		queued := enqueue(t, s, "q", "echo", 3) // moved by hand into the set, as a limit would
		if err := s.be.Client.LRem(s.ctx, s.b.PendingKey("q"), 0, layout.IDText(queued)).Err(); err != nil {
			t.Fatal(err)
		}
		z := redis.Z{Score: float64(time.Now().UnixMilli()), Member: layout.IDText(queued)}
		if err := s.be.Client.ZAdd(s.ctx, s.b.ScheduledKey("q"), z).Err(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Millisecond)

		var wg sync.WaitGroup
		var mu sync.Mutex
		promoted := 0
		for range 8 {
			wg.Go(func() {
				m, err := s.b.Maintain(s.ctx, "q", 3)
				if err != nil {
					t.Errorf("Maintain: %v", err)
				}
				mu.Lock()
				promoted += m.Promoted
				mu.Unlock()
			})
		}
		wg.Wait()
		all := append(texts(ids...), texts(retry, queued)...)
		got := listed(t, s, s.b.PendingKey("q"))
		if promoted != len(all) || len(got) != len(all) {
			t.Fatalf("8 racing Maintains promoted %d, list holds %d; want %d each", promoted, len(got), len(all))
		}
		slices.Sort(got)
		slices.Sort(all)
		if !slices.Equal(got, all) {
			t.Fatalf("list = %v, want each due task once", got)
		}
		for _, id := range ids {
			if st := status(t, s, id); st != "queued" {
				t.Fatalf("delayed task once promoted: status %q, want queued", st)
			}
		}
		if st := status(t, s, retry); st != "retrying" {
			t.Errorf("retry once promoted: status %q, want retrying", st)
		}
		if st, field := status(t, s, queued), hget(t, s, queued, layout.FieldStatus); st != "queued" || field != "" {
			t.Errorf("queued task once promoted: status %q (field %q), want queued, left out", st, field)
		}
	})
}

// TestPurgeAndListSeeScheduled: purging queued tasks leaves scheduled ones
// alone, and the listing filters them by status.
func TestPurgeAndListSeeScheduled(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ids, _ := enqueueAll(t, s, broker.NewTask{Queue: "q"}, broker.NewTask{Queue: "q", Delay: time.Hour})
		n, err := s.b.Purge(s.ctx, "q", results.StatusQueued)
		if err != nil || n != 1 {
			t.Fatalf("Purge(queued) = %d, %v; want 1", n, err)
		}
		recs, _, err := s.b.List(s.ctx, broker.ListQuery{Queues: []string{"q"}, Status: results.StatusScheduled, Limit: 10})
		if err != nil || len(recs) != 1 || recs[0].ID != ids[1] || recs[0].RunAt.IsZero() {
			t.Fatalf("List(scheduled) = %+v, %v; want the delayed task with its run_at", recs, err)
		}
	})
}

// TestPromoteLeavesLeases: Promote moves due tasks only; expired leases
// wait for Maintain.
func TestPromoteLeavesLeases(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		enqueue(t, s, "q", "echo", 3)
		claimOne(t, s, "q", 200*time.Millisecond)
		ids, _ := enqueueAll(t, s, broker.NewTask{Queue: "q", Delay: 100 * time.Millisecond})
		time.Sleep(250 * time.Millisecond)
		m, err := s.b.Promote(s.ctx, "q")
		if err != nil || m.Promoted != 1 || m.Due != 1 || m.Leases != 0 {
			t.Fatalf("Promote = %+v, %v; want the due task promoted, no lease reaped", m, err)
		}
		if m, err = s.b.Maintain(s.ctx, "q", 3); err != nil || m.Due != 0 || m.Leases != 1 {
			t.Fatalf("Maintain = %+v, %v; want the expired lease reaped", m, err)
		}
		if got := listed(t, s, s.b.PendingKey("q")); len(got) != 2 || got[1] != layout.IDText(ids[0]) {
			t.Errorf("pending = %v, want the reaped task at the head, the promoted one at the tail", got)
		}
	})
}
