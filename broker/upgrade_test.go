package broker_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
)

// TestReapsPerTaskLeasesOfOldBuilds writes what a worker of a build that
// leased each task on its own leaves when it dies (the task ID in leases,
// its token in an owners hash, the options in three fields) and checks
// that Reap hands the task back and a claim runs it with its options.
func TestReapsPerTaskLeasesOfOldBuilds(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		c := s.be.Client
		id := enqueue(t, s, "q", "echo", 0)
		key, idText := s.keys.Task(id), broker.IDText(id)
		owners := s.keys.Prefix + ":{q}:owners" // the old layout's name
		if err := c.LPop(s.ctx, s.keys.Pending("q")).Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.HDel(s.ctx, key, broker.FieldMeta).Err(); err != nil {
			t.Fatal(err)
		}
		c.HSet(s.ctx, key, "s", "running", "tk", "0123456789abcdef01234567", "a", 1, "n", "echo", "q", "q",
			"mr", 2, "to", 45000, "tl", 7200000)
		c.ZAdd(s.ctx, s.keys.Leases("q"), redis.Z{Score: 1, Member: idText})
		c.HSet(s.ctx, owners, idText, "0123456789abcdef01234567")

		r, err := s.b.Reap(s.ctx, "q", 10, 3)
		if err != nil || r != (broker.Reaped{Leases: 1, Requeued: 1}) {
			t.Fatalf("Reap of an old per-task lease = %+v, %v; want 1 lease, 1 task requeued", r, err)
		}
		if n := c.HLen(s.ctx, owners).Val(); n != 0 {
			t.Errorf("owners hash keeps %d entries, want none", n)
		}
		got := claimOne(t, s, "q", time.Minute)
		if got.ID != id || got.Name != "echo" || got.Crashes != 1 || got.Attempts != 2 || got.MaxRetries != 2 ||
			got.Timeout != 45*time.Second || got.ResultTTL != 2*time.Hour {
			t.Errorf("claim after reaping = %+v, want attempt 2 after 1 crash, with the old fields' options", got)
		}
		h := c.HGetAll(s.ctx, key).Val()
		wantMeta := broker.Meta{Options: broker.Options{MaxRetries: 2, Timeout: 45 * time.Second, ResultTTL: 2 * time.Hour}, Queue: "q", Name: "echo"}
		if m, err := broker.MetaOf(h); err != nil || m != wantMeta {
			t.Errorf("MetaOf(old hash) = %+v, %v; want %+v", m, err, wantMeta)
		}
		if err := s.b.Finish(s.ctx, broker.Finish{Claimed: &got, Outcome: broker.Succeeded, Result: []byte("1")}); err != nil {
			t.Fatal(err)
		}
		if ttl := c.PTTL(s.ctx, key).Val(); ttl <= 119*time.Minute || ttl > 2*time.Hour {
			t.Errorf("PTTL after success = %v, want the old field's 2h", ttl)
		}
	})
}

// TestReapGoesPastABadLease puts an ID that is not one into an expired
// lease: Reap reports it and still hands back the tasks of a good lease.
func TestReapGoesPastABadLease(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		c := s.be.Client
		bad := "aaaaaaaaaaaaaaaaaaaaaaaa"
		c.ZAdd(s.ctx, s.keys.Leases("q"), redis.Z{Score: 1, Member: bad})
		c.SAdd(s.ctx, s.keys.LeaseTasks("q", bad), "not-an-id")
		enqueue(t, s, "q", "echo", 0)
		claimOne(t, s, "q", 50*time.Millisecond)
		var total broker.Reaped
		var sawErr bool
		for deadline := time.Now().Add(5 * time.Second); total.Requeued == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			r, err := s.b.Reap(s.ctx, "q", 10, 3)
			sawErr = sawErr || err != nil
			total.Requeued += r.Requeued
			total.Leases += r.Leases
		}
		if !sawErr || total != (broker.Reaped{Leases: 1, Requeued: 1}) {
			t.Errorf("Reap with a bad lease first: %+v, error seen %v; want the good lease reaped and the bad one reported", total, sawErr)
		}
	})
}

// TestTasksOfThePreviousLayout queues tasks as the build before FieldMeta
// wrote them (name, queue and options in fields of their own) and checks
// that they start with their name and options, and that a cancel and a
// success expire them after their result TTL.
func TestTasksOfThePreviousLayout(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		c := s.be.Client
		old := func() uuid.UUID {
			id := enqueue(t, s, "q", "echo", 0)
			key := s.keys.Task(id)
			c.HDel(s.ctx, key, broker.FieldMeta)
			c.HSet(s.ctx, key, "n", "old.name", "q", "q", "o", "2,45000,7200000", broker.FieldStatus, "queued")
			return id
		}
		ran, canceled := old(), old()
		if st, err := s.b.Cancel(s.ctx, canceled); err != nil || st != "canceled" {
			t.Fatalf("Cancel = %q, %v", st, err)
		}
		got := claimOne(t, s, "q", time.Minute)
		if got.ID != ran || got.Name != "old.name" || got.MaxRetries != 2 || got.Timeout != 45*time.Second || got.ResultTTL != 2*time.Hour {
			t.Errorf("claim of a task of the previous layout = %+v, want old.name with its options", got)
		}
		if err := s.b.Finish(s.ctx, broker.Finish{Claimed: &got, Outcome: broker.Succeeded, Result: []byte("1")}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []uuid.UUID{ran, canceled} {
			if ttl := c.PTTL(s.ctx, s.keys.Task(id)).Val(); ttl <= 119*time.Minute || ttl > 2*time.Hour {
				t.Errorf("PTTL of %s = %v, want the old options' 2h", id, ttl)
			}
		}
	})
}

// TestReapsRunningTasksOfThePreviousLayout leaves a task as a worker of the
// build before FieldAttempt leaves it when it dies mid-attempt (its token,
// start and count in "tk", "st" and "a") and checks that reaping counts the
// crash and the next attempt counts on from the old count.
func TestReapsRunningTasksOfThePreviousLayout(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		c := s.be.Client
		id := enqueue(t, s, "q", "echo", 0)
		got := claimOne(t, s, "q", 50*time.Millisecond)
		key := s.keys.Task(id)
		c.HDel(s.ctx, key, broker.FieldMeta, broker.FieldAttempt)
		c.HSet(s.ctx, key, "n", "old.name", "q", "q", "o", "2,45000,7200000", "tk", got.Token, "a", 1, "st", 1700000000000, broker.FieldStatus, "running")
		reapUntil(t, s, "q", 3, broker.Reaped{Requeued: 1})
		again := claimOne(t, s, "q", time.Minute)
		if again.ID != id || again.Name != "old.name" || again.Attempts != 2 || again.Crashes != 1 {
			t.Errorf("claim after reaping = %+v, want old.name's attempt 2 after 1 crash", again)
		}
	})
}

// TestReapsATaskAnOldWorkerStartedAfterANewOne: while old and new workers
// share a queue, a task that a new worker ran once (its token in "at") may
// be started by an old worker (its token in "tk") that then dies. Reaping
// that lease must hand the task back, not leave it running.
func TestReapsATaskAnOldWorkerStartedAfterANewOne(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		c := s.be.Client
		id := enqueue(t, s, "q", "echo", 3)
		first := claimOne(t, s, "q", time.Minute)
		if err := s.b.Finish(s.ctx, broker.Finish{Claimed: &first, Outcome: broker.Retry, Error: "boom", RetryIn: time.Hour}); err != nil {
			t.Fatal(err)
		}
		key, idText, old := s.keys.Task(id), broker.IDText(id), "0123456789abcdef01234567"
		c.ZRem(s.ctx, s.keys.Scheduled("q"), idText) // as the old worker's take did
		c.ZAdd(s.ctx, s.keys.Leases("q"), redis.Z{Score: 1, Member: old})
		c.SAdd(s.ctx, s.keys.LeaseTasks("q", old), idText)
		c.HSet(s.ctx, key, "s", "running", "tk", old, "a", 2, "st", 1700000000000)
		r, err := s.b.Reap(s.ctx, "q", 10, 3)
		if err != nil || r != (broker.Reaped{Leases: 1, Requeued: 1}) {
			t.Fatalf("Reap = %+v, %v; want the task handed back", r, err)
		}
		if st, tk := status(t, s, id), hget(t, s, id, "tk"); st != "queued" || tk != "" {
			t.Errorf("after reaping: status %q, tk %q; want queued and no token", st, tk)
		}
		if again := claimOne(t, s, "q", time.Minute); again.ID != id || again.Crashes != 1 || again.Failures != 1 {
			t.Errorf("claim after reaping = %+v, want the task with 1 crash and 1 failure", again)
		}
	})
}
