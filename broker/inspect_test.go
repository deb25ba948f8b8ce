package broker_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

// claimAndEnd claims n tasks of queue and ends them with outcome.
func claimAndEnd(t *testing.T, s bundle, queue string, n int, outcome broker.Outcome) []uuid.UUID {
	t.Helper()
	cs := claimN(t, s, queue, n, time.Minute)
	ids := make([]uuid.UUID, n)
	for i := range cs {
		mustFinish(t, s, broker.Finish{Claimed: &cs[i], Outcome: outcome, Result: []byte(`1`), Error: "boom", RetryIn: time.Hour})
		ids[i] = cs[i].ID
	}
	return ids
}

// reportKept reports n succeeded tasks of queue, kept for an hour, as
// their worker's heartbeat does.
func reportKept(t *testing.T, s bundle, queue string, n int64) {
	t.Helper()
	h := broker.Heartbeat{ID: "w", Info: []byte(`{}`), Timeout: time.Minute,
		Kept: map[string]map[string]int64{queue: {broker.KeptMinute(time.Now().Add(time.Hour)): n}}}
	if err := s.b.Beat(s.ctx, h); err != nil {
		t.Fatal(err)
	}
}

func TestCountsByStatus(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		before := time.Now().Add(-time.Second)
		for range 9 {
			enqueue(t, s, "q", "x", 3)
		}
		claimAndEnd(t, s, "q", 2, broker.Succeeded)
		reportKept(t, s, "q", 2)
		claimAndEnd(t, s, "q", 1, broker.Failed)
		claimAndEnd(t, s, "q", 1, broker.Retry)
		claimN(t, s, "q", 2, time.Minute) // running
		canceled := enqueue(t, s, "q", "x", 0)
		if _, err := s.b.Cancel(s.ctx, canceled); err != nil {
			t.Fatal(err)
		}
		c, err := s.b.Counts(s.ctx, "q")
		if err != nil {
			t.Fatal(err)
		}
		// The canceled task's ID left the list: Pending counts live tasks.
		want := broker.QueueCounts{Pending: 3, Scheduled: 1, Leased: 2, Succeeded: 2, Failed: 1, Canceled: 1}
		got := c
		got.OldestCreated, got.Steps = time.Time{}, nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Counts = %+v, want %+v", got, want)
		}
		if c.OldestCreated.Before(before) || c.OldestCreated.After(time.Now()) {
			t.Errorf("OldestCreated = %v, want between %v and now", c.OldestCreated, before)
		}
		empty, err := s.b.Counts(s.ctx, "empty")
		if err != nil || !empty.OldestCreated.IsZero() || empty.Pending != 0 {
			t.Errorf("Counts(empty) = %+v, %v; want zeros", empty, err)
		}
	})
}

func TestRetryQueuesFailedAndCanceledTasksOnce(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		failed := enqueue(t, s, "q", "x", 0)
		claimAndEnd(t, s, "q", 1, broker.Failed)
		canceled := enqueue(t, s, "q", "x", 0)
		if _, err := s.b.Cancel(s.ctx, canceled); err != nil {
			t.Fatal(err)
		}
		for _, id := range []uuid.UUID{failed, canceled} {
			if st, err := s.b.Retry(s.ctx, id); err != nil || st != broker.StatusRetried {
				t.Fatalf("Retry(%s) = %s, %v; want retried", id, st, err)
			}
			if ttl := s.be.Client.PTTL(s.ctx, s.b.TaskKey(id)).Val(); ttl != -1 {
				t.Errorf("PTTL of a retried task = %v, want none: it is not terminal", ttl)
			}
		}
		// Each is queued once.
		if n := s.be.Client.LLen(s.ctx, s.b.PendingKey("q")).Val(); n != 2 {
			t.Errorf("queue length after two retries = %d, want 2", n)
		}
		if st, err := s.b.Retry(s.ctx, failed); err != nil || st != results.StatusQueued {
			t.Errorf("Retry again = %s, %v; want queued: a task already retried is not retried twice", st, err)
		}
		cs := claimN(t, s, "q", 2, time.Minute)
		if cs[0].ID != failed || cs[1].ID != canceled {
			t.Errorf("claimed %s, %s; want %s, then %s, in the order retried", cs[0].ID, cs[1].ID, failed, canceled)
		}
		if cs[0].Attempts != 2 || cs[0].Failures != 1 {
			t.Errorf("retried failed task: attempt %d with %d failures, want 2 and 1: its history stays", cs[0].Attempts, cs[0].Failures)
		}
		c, err := s.b.Counts(s.ctx, "q")
		if err != nil || c.Failed != 0 || c.Canceled != 0 || c.Leased != 2 {
			t.Errorf("Counts after the retries = %+v, %v; want none failed or canceled, 2 leased", c, err)
		}
		mustFinish(t, s, broker.Finish{Claimed: &cs[0], Outcome: broker.Succeeded, Result: []byte(`1`)})
		if st, err := s.b.Retry(s.ctx, failed); err != nil || st != results.StatusSucceeded {
			t.Errorf("Retry(succeeded task) = %s, %v; want succeeded, unchanged", st, err)
		}
		if _, err := s.b.Retry(s.ctx, uuid.Must(uuid.NewV7())); !errors.Is(err, results.ErrNotFound) {
			t.Errorf("Retry(unknown) = %v, want ErrNotFound", err)
		}
	})
}

// Deep in a long queue a canceled task's ID stays as a tombstone (cancel
// scans a bounded stretch from each end); a retry then gives it its place
// back rather than queuing it twice.
func TestCancelDeepInAQueueLeavesATombstoneThatRetryReuses(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		fill := func() {
			ts := make([]broker.NewTask, 1001)
			for i := range ts {
				ts[i] = broker.NewTask{Name: "x", Queue: "q", Payload: []byte(`1`), Timeout: time.Minute, ResultTTL: time.Hour}
			}
			if _, err := s.b.Enqueue(s.ctx, ts); err != nil {
				t.Fatal(err)
			}
		}
		fill()
		deep := enqueue(t, s, "q", "x", 0)
		fill()
		if _, err := s.b.Cancel(s.ctx, deep); err != nil {
			t.Fatal(err)
		}
		if n := s.be.Client.LLen(s.ctx, s.b.PendingKey("q")).Val(); n != 2003 {
			t.Errorf("queue length after canceling deep in it = %d, want 2003: the ID stays as a tombstone", n)
		}
		if st, err := s.b.Retry(s.ctx, deep); err != nil || st != broker.StatusRetried {
			t.Fatalf("Retry = %s, %v; want retried", st, err)
		}
		if n := s.be.Client.LLen(s.ctx, s.b.PendingKey("q")).Val(); n != 2003 {
			t.Errorf("queue length after the retry = %d, want 2003: the tombstone's place reused", n)
		}
	})
}

func TestPurge(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		for range 7 {
			enqueue(t, s, "q", "x", 0)
		}
		failed := claimAndEnd(t, s, "q", 3, broker.Failed)
		succeeded := claimAndEnd(t, s, "q", 2, broker.Succeeded)
		reportKept(t, s, "q", 2)
		running := claimOne(t, s, "q", time.Minute)
		queued := enqueue(t, s, "q", "x", 0)
		if n, err := s.b.Purge(s.ctx, "q", results.StatusFailed); err != nil || n != 3 {
			t.Errorf("Purge(failed) = %d, %v; want 3", n, err)
		}
		for _, id := range failed {
			if st := status(t, s, id); st != "" {
				t.Errorf("purged task %s is still there, %s", id, st)
			}
		}
		if c, err := s.b.Counts(s.ctx, "q"); err != nil || c.Succeeded != 2 || c.Failed != 0 {
			t.Errorf("Counts before purging succeeded = %+v, %v; want 2 succeeded, none failed", c, err)
		}
		if n, err := s.b.Purge(s.ctx, "q", results.StatusSucceeded); err != nil || n != 2 {
			t.Errorf("Purge(succeeded) = %d, %v; want 2", n, err)
		}
		if st := status(t, s, succeeded[0]); st != "" {
			t.Errorf("purged succeeded task is still there, %s", st)
		}
		if c, err := s.b.Counts(s.ctx, "q"); err != nil || c.Succeeded != 0 {
			t.Errorf("Counts after purging succeeded = %+v, %v; want none", c, err)
		}
		if n, err := s.b.Purge(s.ctx, "q", results.StatusQueued); err != nil || n != 2 {
			t.Errorf("Purge(queued) = %d, %v; want 2", n, err)
		}
		if st := status(t, s, queued); st != "" {
			t.Errorf("purged queued task is still there, %s", st)
		}
		if st := status(t, s, running.ID); st != "running" {
			t.Errorf("running task after the purges = %q, want running", st)
		}
		got := listAll(t, s, broker.ListQuery{Queues: []string{"q"}, Limit: 10})
		if len(got) != 1 || got[0] != running.ID {
			t.Errorf("listed after the purges %v, want only %s", got, running.ID)
		}
		if _, err := s.b.Purge(s.ctx, "q", results.StatusRunning); !errors.Is(err, broker.ErrBadStatus) {
			t.Errorf("Purge(running) = %v, want ErrBadStatus", err)
		}
	})
}

// Tidy drops the log's dead head; a cursor made before keeps its place.
func TestTidyTrimsTheLogHead(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ts := []broker.NewTask{{Name: "x", Queue: "q", Payload: []byte(`1`), Timeout: time.Minute, ResultTTL: 20 * time.Millisecond}}
		if _, err := s.b.Enqueue(s.ctx, ts); err != nil {
			t.Fatal(err)
		}
		kept := enqueue(t, s, "q", "x", 0)
		claimAndEnd(t, s, "q", 1, broker.Succeeded)
		newest := enqueue(t, s, "q", "x", 0)
		recs, next, err := s.b.List(s.ctx, broker.ListQuery{Queues: []string{"q"}, Limit: 1})
		if err != nil || len(recs) != 1 || recs[0].ID != newest {
			t.Fatalf("first page = %v, %v; want %s", recs, err, newest)
		}
		time.Sleep(50 * time.Millisecond)
		if s.be.Mini != nil {
			s.be.Mini.FastForward(50 * time.Millisecond) // miniredis expires keys only so
		}
		if td, err := s.b.Tidy(s.ctx, "q"); err != nil || td.Log != 1 {
			t.Fatalf("Tidy = %+v, %v; want 1 entry dropped", td, err)
		}
		if n := s.be.Client.LLen(s.ctx, s.b.LogKey("q")).Val(); n != 2 {
			t.Errorf("log length after Tidy = %d, want 2", n)
		}
		got := listAll(t, s, broker.ListQuery{Queues: []string{"q"}, Limit: 1, Cursor: next})
		if len(got) != 1 || got[0] != kept {
			t.Errorf("pages after the first, once the log was trimmed = %v, want only %s", got, kept)
		}
		if td, err := s.b.Tidy(s.ctx, "q"); err != nil || td.Log != 0 {
			t.Errorf("Tidy again = %+v, %v; want nothing dropped", td, err)
		}
	})
}

// Tidy stops at the first live task: those queued after it stay listed
// in the log until it goes, however long.
func TestTidyStopsAtALiveTask(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		short := func() {
			ts := []broker.NewTask{{Name: "x", Queue: "q", Payload: []byte(`1`), Timeout: time.Minute, ResultTTL: 20 * time.Millisecond}}
			if _, err := s.b.Enqueue(s.ctx, ts); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			short()
		}
		enqueue(t, s, "q", "x", 0) // stays queued
		short()
		claimAndEnd(t, s, "q", 3, broker.Succeeded)
		time.Sleep(50 * time.Millisecond)
		if s.be.Mini != nil {
			s.be.Mini.FastForward(50 * time.Millisecond)
		}
		if td, err := s.b.Tidy(s.ctx, "q"); err != nil || td.Log != 3 {
			t.Errorf("Tidy = %+v, %v; want the 3 gone IDs before the live task dropped", td, err)
		}
		if n := s.be.Client.LLen(s.ctx, s.b.LogKey("q")).Val(); n != 2 {
			t.Errorf("log length after Tidy = %d, want 2: the live task and the one after it", n)
		}
	})
}

func TestKeptCountsByMinute(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(10 * 60000)
	h := map[string]string{"540000": "5", "600000": "7", "660000": "3", "720000": "2", "inf": "1", "junk": "9"}
	if got := broker.KeptNow(h, now); got != 6 {
		t.Errorf("kept at minute 10 = %d, want 6: the minutes after it and inf", got)
	}
}

func TestWorkersBeatAndLeave(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		info, _ := json.Marshal(map[string]string{"host": "h"})
		for _, id := range []string{"w1", "w2"} {
			h := broker.Heartbeat{ID: id, Info: info, Timeout: time.Minute, Queues: []string{"q1", "q2"},
				Steps: map[string]map[int64]broker.StepCount{"q1": {10000: {Processed: 3, Failed: 1}}}, Keep: time.Hour}
			if err := s.b.Beat(s.ctx, h); err != nil {
				t.Fatal(err)
			}
		}
		ws, err := s.b.Workers(s.ctx, time.Minute)
		if err != nil || len(ws) != 2 || string(ws[0].Info) != string(info) {
			t.Fatalf("Workers = %+v, %v; want w1 and w2 with their info", ws, err)
		}
		if since := time.Since(ws[0].LastHeartbeat); since < -time.Second || since > 5*time.Second {
			t.Errorf("LastHeartbeat %v ago, want just now", since)
		}
		if err := s.b.Leave(s.ctx, "w1", time.Minute); err != nil {
			t.Fatal(err)
		}
		if ws, err := s.b.Workers(s.ctx, time.Minute); err != nil || len(ws) != 1 || ws[0].ID != "w2" {
			t.Errorf("Workers after w1 left = %+v, %v; want w2", ws, err)
		}
		time.Sleep(5 * time.Millisecond)
		if ws, err := s.b.Workers(s.ctx, time.Millisecond); err != nil || len(ws) != 0 {
			t.Errorf("Workers with a timeout of 1ms = %+v, %v; want none", ws, err)
		}
		qs, err := s.b.Queues(s.ctx)
		if err != nil || len(qs) != 2 || qs[0] != "q1" || qs[1] != "q2" {
			t.Errorf("Queues = %v, %v; want [q1 q2]", qs, err)
		}
		c, err := s.b.Counts(s.ctx, "q1")
		if err != nil || c.Steps[10000] != (broker.StepCount{Processed: 6, Failed: 2}) {
			t.Errorf("Counts(q1).Steps = %v, %v; want 6 processed and 2 failed at 10000", c.Steps, err)
		}
	})
}
