package broker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/internal/layout"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
)

// bundle is what each conformance test needs.
type bundle struct {
	ctx context.Context
	be  redistest.Backend
	b   *broker.Broker
}

// setup returns one bundle per backend. Every script call made through it
// is checked to touch keys of a single hash slot.
func setup(t *testing.T) []bundle {
	t.Helper()
	var out []bundle
	for _, be := range redistest.Backends(t) {
		be.Client.AddHook(slotCheck{t: t})
		out = append(out, bundle{ctx: context.Background(), be: be, b: broker.New(be.Client, be.Prefix)})
	}
	return out
}

// each runs fn as a parallel subtest per backend.
func each(t *testing.T, fn func(t *testing.T, s bundle)) {
	t.Helper()
	t.Parallel()
	for _, s := range setup(t) {
		t.Run(s.be.Name, func(t *testing.T) {
			fn(t, s)
		})
	}
}

// slotCheck fails the test when an EVAL or EVALSHA, sent alone or in a
// pipeline, declares keys of more than one hash slot (computed in Go:
// miniredis has no CLUSTER KEYSLOT).
type slotCheck struct{ t *testing.T }

func (h slotCheck) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h slotCheck) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			h.check(cmd)
		}
		return next(ctx, cmds)
	}
}
func (h slotCheck) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.check(cmd)
		return next(ctx, cmd)
	}
}

// check fails the test when cmd is a script call whose keys span slots.
func (h slotCheck) check(cmd redis.Cmder) {
	args := cmd.Args()
	if name := strings.ToLower(fmt.Sprint(args[0])); (name == "evalsha" || name == "eval") && len(args) > 2 {
		n, _ := strconv.Atoi(fmt.Sprint(args[2]))
		keys := args[3 : 3+n]
		for _, k := range keys {
			if layout.Slot(fmt.Sprint(k)) != layout.Slot(fmt.Sprint(keys[0])) {
				h.t.Errorf("script declares keys in different slots: %v", keys)
			}
		}
	}
}

func enqueue(t *testing.T, s bundle, queue, name string, maxRetries int) uuid.UUID {
	t.Helper()
	ts := []broker.NewTask{{Name: name, Queue: queue, Payload: []byte(`{"n":1}`),
		MaxRetries: maxRetries, Timeout: time.Minute, ResultTTL: time.Hour}}
	if _, err := s.b.Enqueue(s.ctx, ts); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	return ts[0].ID
}

// claim takes up to n tasks of queue and starts them, in two round trips.
func claim(s bundle, queue string, n int, lease time.Duration) ([]broker.Claimed, error) {
	_, taken, err := s.b.Take(s.ctx, queue, n, lease, "")
	if err != nil || taken == nil {
		return nil, err
	}
	got, _, err := s.b.StartTake(s.ctx, taken, 0, lease)
	return got, err
}

// finish records one outcome and returns its result.
func finish(s bundle, f broker.Finish) error {
	res, err := s.b.Finish(s.ctx, []broker.Finish{f})
	if err != nil {
		return err
	}
	return res[0]
}

func claimOne(t *testing.T, s bundle, queue string, lease time.Duration) broker.Claimed {
	t.Helper()
	return claimN(t, s, queue, 1, lease)[0]
}

// claimN claims n tasks of queue in one call, failing unless n come.
func claimN(t *testing.T, s bundle, queue string, n int, lease time.Duration) []broker.Claimed {
	t.Helper()
	got, err := claim(s, queue, n, lease)
	if err != nil || len(got) != n {
		t.Fatalf("claim(%q, %d) = %d tasks, %v; want %d", queue, n, len(got), err, n)
	}
	return got
}

func hget(t *testing.T, s bundle, id uuid.UUID, field string) string {
	t.Helper()
	v, err := s.be.Client.HGet(s.ctx, s.b.TaskKey(id), field).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	return v
}

// status reads a task's status as Get does, from all its fields.
func status(t *testing.T, s bundle, id uuid.UUID) string {
	t.Helper()
	h, err := s.be.Client.HGetAll(s.ctx, s.b.TaskKey(id)).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(h) == 0 {
		return ""
	}
	return string(broker.StatusOf(h))
}

func stats(t *testing.T, s bundle, queue string) broker.QueueStats {
	t.Helper()
	st, err := s.b.Stats(s.ctx, queue)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// reaped counts tasks handed back by Maintain.
type reaped struct{ Requeued, Poisoned int }

// reapUntil maintains queue until want tasks were handed back, or fails
// after a deadline: leases expire on Redis's real clock.
func reapUntil(t *testing.T, s bundle, queue string, maxCrashes int, want reaped) {
	t.Helper()
	var total reaped
	deadline := time.Now().Add(5 * time.Second)
	for total != want {
		if time.Now().After(deadline) {
			t.Fatalf("Maintain: handed back %+v after 5s, want %+v", total, want)
		}
		m, err := s.b.Maintain(s.ctx, queue, maxCrashes)
		if err != nil {
			t.Fatalf("Maintain: %v", err)
		}
		total.Requeued += m.Requeued
		total.Poisoned += m.Poisoned
		time.Sleep(20 * time.Millisecond)
	}
}

// expiresWithResultTTL checks that the terminal task id (enqueued by
// enqueue, with a result TTL of an hour) got its TTL from its options.
func expiresWithResultTTL(t *testing.T, s bundle, id uuid.UUID) {
	t.Helper()
	if ttl := s.be.Client.PTTL(s.ctx, s.b.TaskKey(id)).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("PTTL of terminal task %s = %v, want about 1h, its result TTL", id, ttl)
	}
}

func TestEnqueueClaimSucceed(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ps := s.be.Client.Subscribe(s.ctx, s.b.DoneChannel())
		defer ps.Close()
		if _, err := ps.Receive(s.ctx); err != nil {
			t.Fatal(err)
		}
		id := enqueue(t, s, "q", "echo", 3)
		if got, field := status(t, s, id), hget(t, s, id, layout.FieldStatus); got != "queued" || field != "" {
			t.Fatalf("status after Enqueue = %q (field %q), want queued, left out", got, field)
		}
		c := claimOne(t, s, "q", time.Minute)
		if c.ID != id || c.Name != "echo" || string(c.Payload) != `{"n":1}` || c.Attempts != 1 || c.MaxRetries != 3 || c.Timeout != time.Minute {
			t.Fatalf("Claim = %+v, want the enqueued task at attempt 1", c)
		}
		if got, field := status(t, s, id), hget(t, s, id, layout.FieldStatus); got != "running" || field != "" {
			t.Fatalf("status after Claim = %q (field %q), want running, left out", got, field)
		}
		if st := stats(t, s, "q"); st != (broker.QueueStats{Leased: 1}) {
			t.Fatalf("Stats after Claim = %+v, want 1 leased", st)
		}
		if err := finish(s, broker.Finish{Claimed: &c, Outcome: broker.Succeeded, Result: []byte(`"ok"`)}); err != nil {
			t.Fatalf("Finish: %v", err)
		}
		if got := hget(t, s, id, layout.FieldResult); got != `"ok"` {
			t.Errorf("result = %q, want %q", got, `"ok"`)
		}
		if got := status(t, s, id); got != "succeeded" {
			t.Errorf("status = %q, want succeeded", got)
		}
		ttl := s.be.Client.PTTL(s.ctx, s.b.TaskKey(id)).Val()
		if ttl <= 59*time.Minute || ttl > time.Hour {
			t.Errorf("PTTL of finished task = %v, want about 1h", ttl)
		}
		if st := stats(t, s, "q"); st != (broker.QueueStats{}) {
			t.Errorf("Stats after Finish = %+v, want all empty", st)
		}
		msg, err := ps.ReceiveMessage(s.ctx)
		if err != nil || msg.Payload != layout.IDText(id) {
			t.Errorf("done channel got %v, %v; want %s", msg, err, id)
		}
		// A resent Finish is applied once and reports success; a second,
		// different outcome for the same attempt is refused.
		if err := finish(s, broker.Finish{Claimed: &c, Outcome: broker.Succeeded, Result: []byte(`"ok"`)}); err != nil {
			t.Errorf("resent Finish = %v, want nil", err)
		}
		if err := finish(s, broker.Finish{Claimed: &c, Outcome: broker.Failed, Error: "late"}); !errors.Is(err, broker.ErrLeaseLost) {
			t.Errorf("second outcome for one attempt = %v, want ErrLeaseLost", err)
		}
		if got := status(t, s, id); got != "succeeded" || hget(t, s, id, layout.FieldError) != "" {
			t.Errorf("after a second outcome: status %q error %q, want succeeded and no error", got, hget(t, s, id, layout.FieldError))
		}
	})
}

func TestEnqueueIsIdempotent(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		nt := []broker.NewTask{{Name: "echo", Queue: "q", Payload: []byte("null"), ResultTTL: time.Hour}}
		created, err := s.b.Enqueue(s.ctx, nt)
		if err != nil {
			t.Fatal(err)
		}
		first := created[0]
		again, err := s.b.Enqueue(s.ctx, nt) // nt[0] now has its ID: a resend
		if err != nil || !again[0].Equal(first) {
			t.Fatalf("second Enqueue = %v, %v; want %v, nil", again, err, first)
		}
		if st := stats(t, s, "q"); st.Pending != 1 {
			t.Fatalf("Pending after two Enqueues of one ID = %d, want 1", st.Pending)
		}
		// A batch that mixes the stored ID with new ones stores only the
		// new ones, and keeps the stored task's creation time.
		batch := []broker.NewTask{nt[0], {Name: "echo", Queue: "q", Payload: []byte("1"), ResultTTL: time.Hour}}
		created, err = s.b.Enqueue(s.ctx, batch)
		if err != nil || !created[0].Equal(first) {
			t.Fatalf("Enqueue of a batch with a stored ID = %v, %v; want %v first", created, err, first)
		}
		fresh := batch[1].ID
		if st := stats(t, s, "q"); st.Pending != 2 {
			t.Fatalf("Pending after a batch of one stored and one new ID = %d, want 2", st.Pending)
		}
		if got := status(t, s, fresh); got != "queued" {
			t.Fatalf("new task of a mixed batch: status %q, want queued", got)
		}
	})
}

func TestClaimIsFIFOAndBatched(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		var ids []uuid.UUID
		for range 5 {
			ids = append(ids, enqueue(t, s, "q", "echo", 0))
		}
		got := claimN(t, s, "q", 3, time.Minute)
		rest, err := claim(s, "q", 10, time.Minute)
		if err != nil || len(rest) != 2 {
			t.Fatalf("Claim(10) = %d, %v; want the 2 left", len(rest), err)
		}
		for i, c := range append(got, rest...) {
			if c.ID != ids[i] {
				t.Errorf("claim %d = %s, want %s (FIFO)", i, c.ID, ids[i])
			}
		}
		none, err := claim(s, "q", 10, time.Minute)
		if err != nil || len(none) != 0 {
			t.Errorf("Claim on empty queue = %d, %v; want 0, nil", len(none), err)
		}
	})
}

func TestExpiredLeaseIsRedeliveredAndFenced(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		id := enqueue(t, s, "q", "echo", 3)
		zombie := claimOne(t, s, "q", 150*time.Millisecond)
		reapUntil(t, s, "q", 3, reaped{Requeued: 1})
		if got := status(t, s, id); got != "queued" {
			t.Fatalf("status after reap = %q, want queued", got)
		}
		held, err := s.b.Renew(s.ctx, "q", time.Minute, []string{zombie.Token})
		if err != nil || len(held) != 1 || held[0] {
			t.Fatalf("Renew of a reaped lease = %v, %v; want [false]", held, err)
		}
		second := claimOne(t, s, "q", time.Minute)
		if second.Attempts != 2 || second.Crashes != 1 {
			t.Fatalf("redelivered claim: attempts %d crashes %d, want 2 and 1", second.Attempts, second.Crashes)
		}
		err = finish(s, broker.Finish{Claimed: &zombie, Outcome: broker.Succeeded, Result: []byte(`"zombie"`)})
		if !errors.Is(err, broker.ErrLeaseLost) {
			t.Fatalf("zombie Finish = %v, want ErrLeaseLost", err)
		}
		if got := status(t, s, id); got != "running" {
			t.Fatalf("status after zombie Finish = %q, want running (unchanged)", got)
		}
		if err := finish(s, broker.Finish{Claimed: &second, Outcome: broker.Succeeded, Result: []byte(`"real"`)}); err != nil {
			t.Fatalf("Finish by the lease holder: %v", err)
		}
		if got := hget(t, s, id, layout.FieldResult); got != `"real"` {
			t.Errorf("result = %s, want the lease holder's", got)
		}
		err = finish(s, broker.Finish{Claimed: &zombie, Outcome: broker.Failed, Error: "late"})
		if !errors.Is(err, broker.ErrLeaseLost) || hget(t, s, id, layout.FieldResult) != `"real"` {
			t.Errorf("zombie Finish after success = %v, result %s; want ErrLeaseLost and the result unchanged", err, hget(t, s, id, layout.FieldResult))
		}
	})
}

func TestRenewKeepsLease(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		enqueue(t, s, "q", "echo", 0)
		c := claimOne(t, s, "q", 300*time.Millisecond)
		for range 6 {
			held, err := s.b.Renew(s.ctx, "q", 300*time.Millisecond, []string{c.Token})
			if err != nil || !held[0] {
				t.Fatalf("Renew = %v, %v; want [true]", held, err)
			}
			if m, err := s.b.Maintain(s.ctx, "q", 3); err != nil || m != (broker.Maintained{}) {
				t.Fatalf("Maintain with a renewed lease = %+v, %v; want nothing done", m, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err := finish(s, broker.Finish{Claimed: &c, Outcome: broker.Succeeded, Result: []byte("1")}); err != nil {
			t.Fatalf("Finish after renewals: %v", err)
		}
	})
}

func TestRetryIsScheduledAndPromoted(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		id := enqueue(t, s, "q", "echo", 3)
		c := claimOne(t, s, "q", time.Minute)
		err := finish(s, broker.Finish{Claimed: &c, Outcome: broker.Retry, Error: "boom", RetryIn: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if got := status(t, s, id); got != "retrying" || hget(t, s, id, layout.FieldError) != "boom" {
			t.Fatalf("after Retry: status %q error %q, want retrying and boom", got, hget(t, s, id, layout.FieldError))
		}
		m, err := s.b.Maintain(s.ctx, "q", 3)
		if err != nil || m.Promoted != 0 || time.Until(m.NextDue) < 59*time.Minute {
			t.Fatalf("Maintain before due = %+v, %v; want none promoted and the next in about 1h", m, err)
		}
		// Make it due now.
		if err := s.be.Client.ZAdd(s.ctx, s.b.ScheduledKey("q"), redis.Z{Score: 1, Member: layout.IDText(id)}).Err(); err != nil {
			t.Fatal(err)
		}
		m, err = s.b.Maintain(s.ctx, "q", 3)
		if err != nil || m.Promoted != 1 || !m.NextDue.IsZero() {
			t.Fatalf("Maintain when due = %+v, %v; want 1 promoted and none next", m, err)
		}
		again := claimOne(t, s, "q", time.Minute)
		if again.Attempts != 2 || again.Failures != 1 {
			t.Errorf("retried claim: attempts %d failures %d, want 2 and 1", again.Attempts, again.Failures)
		}
		if err := finish(s, broker.Finish{Claimed: &again, Outcome: broker.Succeeded, Result: []byte(`7`)}); err != nil {
			t.Fatal(err)
		}
		if st, e, r := status(t, s, id), hget(t, s, id, layout.FieldError), hget(t, s, id, layout.FieldResult); st != "succeeded" || e != "" || r != "7" {
			t.Errorf("after a retry then success: status %q error %q result %q, want succeeded, no error, 7", st, e, r)
		}
	})
}

func TestReleaseHandsBackAtHead(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		first := enqueue(t, s, "q", "echo", 0)
		c := claimOne(t, s, "q", time.Minute)
		enqueue(t, s, "q", "echo", 0)
		if err := finish(s, broker.Finish{Claimed: &c, Outcome: broker.Release}); err != nil {
			t.Fatal(err)
		}
		if got := status(t, s, first); got != "queued" {
			t.Fatalf("status after Release = %q, want queued", got)
		}
		if again := claimOne(t, s, "q", time.Minute); again.ID != first {
			t.Errorf("first claim after Release = %s, want the released %s", again.ID, first)
		}
	})
}

// TestAttemptCounts checks start.lua's count of attempts past its table of
// the usual counts, and the failures and crashes it hands the worker.
func TestAttemptCounts(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		for _, tc := range []struct{ before, failures, crashes string }{
			{"", "", ""}, {"5", "3", "2"}, {"6", "", "1"}, {"41", "40", ""},
		} {
			id := enqueue(t, s, "q", "echo", 0)
			h := map[string]any{}
			if tc.before != "" { // as reap.lua leaves it: no token
				h[layout.FieldAttempt] = ",1700000000000," + tc.before
				h[layout.FieldStatus] = "queued"
			}
			for f, v := range map[string]string{layout.FieldFailures: tc.failures, layout.FieldCrashes: tc.crashes} {
				if v != "" {
					h[f] = v
				}
			}
			if len(h) > 0 {
				if err := s.be.Client.HSet(s.ctx, s.b.TaskKey(id), h).Err(); err != nil {
					t.Fatal(err)
				}
			}
			c := claimOne(t, s, "q", time.Minute)
			before, _ := strconv.Atoi(tc.before)
			failures, _ := strconv.Atoi(tc.failures)
			crashes, _ := strconv.Atoi(tc.crashes)
			if c.ID != id || c.Attempts != before+1 || c.Failures != failures || c.Crashes != crashes {
				t.Errorf("claim after attempts %q, failures %q, crashes %q = %s attempts %d failures %d crashes %d; want %s %d %d %d",
					tc.before, tc.failures, tc.crashes, c.ID, c.Attempts, c.Failures, c.Crashes, id, before+1, failures, crashes)
			}
			rec, err := s.b.Get(s.ctx, id)
			at := hget(t, s, id, layout.FieldAttempt)
			if err != nil || !strings.HasPrefix(at, c.Token+",") || rec.Attempts != before+1 || time.Since(rec.StartedAt) > time.Minute {
				t.Errorf("stored attempt after %q = %q (%d attempts, started %v), %v; want number %d under token %s, started now",
					tc.before, at, rec.Attempts, rec.StartedAt, err, before+1, c.Token)
			}
		}
	})
}

// TestUnknownOutcomeWritesNothing checks that finish.lua refuses an outcome
// it does not know, before writing anything: the batch's other attempt is
// not recorded either, and both tasks stay running under their lease.
func TestUnknownOutcomeWritesNothing(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		a, b := enqueue(t, s, "q", "echo", 0), enqueue(t, s, "q", "echo", 0)
		got := claimN(t, s, "q", 2, time.Minute)
		_, err := s.b.Finish(s.ctx, []broker.Finish{
			{Claimed: &got[0], Outcome: broker.Succeeded, Result: []byte(`1`)},
			{Claimed: &got[1], Outcome: "bogus"},
		})
		if err == nil || !strings.Contains(err.Error(), "bad op") {
			t.Fatalf("Finish with an unknown outcome = %v, want a bad op error", err)
		}
		for _, id := range []uuid.UUID{a, b} {
			if st := status(t, s, id); st != "running" {
				t.Errorf("status of %s after the refused call = %q, want running", id, st)
			}
		}
		if st := stats(t, s, "q"); st.Leased != 2 {
			t.Errorf("leased after the refused call = %d, want 2", st.Leased)
		}
	})
}

func TestCancel(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		queued := enqueue(t, s, "q", "echo", 0)
		if st, err := s.b.Cancel(s.ctx, queued); err != nil || st != "canceled" {
			t.Fatalf("Cancel(queued) = %q, %v; want canceled", st, err)
		}
		if st, err := s.b.Cancel(s.ctx, queued); err != nil || st != "canceled" {
			t.Fatalf("Cancel again = %q, %v; want canceled (idempotent)", st, err)
		}
		expiresWithResultTTL(t, s, queued)
		if got, err := claim(s, "q", 10, time.Minute); err != nil || len(got) != 0 {
			t.Fatalf("Claim after Cancel = %d tasks, %v; want the canceled task dropped", len(got), err)
		}
		if st := stats(t, s, "q"); st != (broker.QueueStats{}) {
			t.Errorf("Stats after dropping a canceled task = %+v, want empty", st)
		}
		running := enqueue(t, s, "q", "echo", 0)
		claimOne(t, s, "q", time.Minute)
		if st, err := s.b.Cancel(s.ctx, running); err != nil || st != "running" {
			t.Errorf("Cancel(running) = %q, %v; want running (refused)", st, err)
		}
		missing, _ := layout.NewID("q")
		if _, err := s.b.Cancel(s.ctx, missing); !errors.Is(err, results.ErrNotFound) {
			t.Errorf("Cancel(missing) = %v, want ErrNotFound", err)
		}
	})
}

// TestSuccessAfterACrashClearsItsError: reaping writes "worker lost" as the
// task's error; the attempt that then succeeds clears it.
func TestSuccessAfterACrashClearsItsError(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		id := enqueue(t, s, "q", "echo", 0)
		claimOne(t, s, "q", 50*time.Millisecond)
		reapUntil(t, s, "q", 3, reaped{Requeued: 1})
		if e := hget(t, s, id, layout.FieldError); !strings.Contains(e, "worker lost") {
			t.Fatalf("error after reaping = %q, want worker lost", e)
		}
		c := claimOne(t, s, "q", time.Minute)
		if err := finish(s, broker.Finish{Claimed: &c, Outcome: broker.Succeeded, Result: []byte("1")}); err != nil {
			t.Fatal(err)
		}
		if e := hget(t, s, id, layout.FieldError); e != "" {
			t.Errorf("error after success = %q, want none", e)
		}
	})
}

func TestPoisonAfterMaxCrashes(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		id := enqueue(t, s, "q", "echo", 5)
		claimOne(t, s, "q", 100*time.Millisecond)
		reapUntil(t, s, "q", 1, reaped{Requeued: 1})
		claimOne(t, s, "q", 100*time.Millisecond)
		reapUntil(t, s, "q", 1, reaped{Poisoned: 1})
		if got := status(t, s, id); got != "failed" || !strings.Contains(hget(t, s, id, layout.FieldError), "poison") {
			t.Errorf("after 2 crashes with max 1: status %q error %q, want failed with poison", got, hget(t, s, id, layout.FieldError))
		}
		expiresWithResultTTL(t, s, id)
		if st := stats(t, s, "q"); st != (broker.QueueStats{}) {
			t.Errorf("Stats = %+v, want empty", st)
		}
	})
}

func TestWaitReady(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		_, ok, err := s.b.WaitReady(s.ctx, []string{"a", "b"}, time.Second)
		if err != nil || ok {
			t.Fatalf("WaitReady on empty queues = %v, %v; want false", ok, err)
		}
		var wg sync.WaitGroup
		var ready broker.Ready
		wg.Add(1)
		go func() {
			defer wg.Done()
			ready, ok, err = s.b.WaitReady(s.ctx, []string{"a", "b"}, 5*time.Second)
		}()
		time.Sleep(50 * time.Millisecond)
		id := enqueue(t, s, "b", "echo", 0)
		enqueue(t, s, "b", "echo", 0)
		wg.Wait()
		if err != nil || !ok {
			t.Fatalf("WaitReady after an enqueue = %v, %v; want true", ok, err)
		}
		if want := (broker.Ready{Queue: "b", Head: layout.IDText(id)}); ready != want {
			t.Errorf("WaitReady = %+v, want %+v", ready, want)
		}
		if c := claimOne(t, s, "b", time.Minute); c.ID != id {
			t.Errorf("WaitReady moved the list: claimed %s, want %s", c.ID, id)
		}
	})
}

func TestHandlers(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		if _, found, err := s.b.HandlerDefaults(s.ctx, []string{"x"}); err != nil || found[0] {
			t.Fatalf("HandlerDefaults before registering = %v, %v; want not found", found, err)
		}
		if err := s.b.RegisterHandlers(s.ctx, map[string]string{"x": `{"max_retries":2}`, "y": `{}`}); err != nil {
			t.Fatal(err)
		}
		v, found, err := s.b.HandlerDefaults(s.ctx, []string{"y", "nope", "x"})
		if err != nil || !slices.Equal(found, []bool{true, false, true}) || !slices.Equal(v, []string{`{}`, "", `{"max_retries":2}`}) {
			t.Fatalf("HandlerDefaults(y, nope, x) = %q, %v, %v", v, found, err)
		}
	})
}

// TestScriptHeaders checks that every Lua script documents its KEYS, ARGV
// and reply in its opening comment (status.lua is not a script: it is
// prepended to some).
func TestScriptHeaders(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("lua/*.lua")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Lua files: %v", err)
	}
	for _, f := range files {
		if f == filepath.Join("lua", "status.lua") || f == filepath.Join("lua", "start_task.lua") || f == filepath.Join("lua", "gate.lua") ||
			f == filepath.Join("lua", "note.lua") || f == filepath.Join("lua", "spill.lua") || f == filepath.Join("lua", "created.lua") {
			continue // preludes of functions, not scripts
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var header strings.Builder
		for _, line := range strings.Split(string(src), "\n") {
			if !strings.HasPrefix(line, "--") {
				break
			}
			header.WriteString(line)
		}
		h := header.String()
		for _, want := range []string{"KEYS[1]", "ARGV", "returns"} {
			if !strings.Contains(h, want) {
				t.Errorf("%s: header does not mention %s", f, want)
			}
		}
	}
}

// TestWaitReadyKeepsMainPoolFree wakes a two-queue wait many times in a
// row: the wait on the queue that stayed empty is still blocked each time,
// and must not hold the connections other calls need.
func TestWaitReadyKeepsMainPoolFree(t *testing.T) {
	t.Parallel()
	be := redistest.Mini(t)
	rdb := redis.NewClient(&redis.Options{Addr: be.Mini.Addr(), PoolSize: 4, PoolTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	b := broker.New(rdb, be.Prefix)
	defer b.Close()
	ctx := context.Background()
	for i := range 20 {
		if err := rdb.RPush(ctx, b.PendingKey("a"), "x").Err(); err != nil {
			t.Fatalf("round %d: RPUSH: %v", i, err)
		}
		_, ok, err := b.WaitReady(ctx, []string{"a", "b"}, time.Second)
		if err != nil || !ok {
			t.Fatalf("round %d: WaitReady = %v, %v; want true", i, ok, err)
		}
		if err := rdb.LPop(ctx, b.PendingKey("a")).Err(); err != nil {
			t.Fatalf("round %d: LPOP on the main pool: %v (blocked waits took its connections)", i, err)
		}
	}
}

// TestScriptsReloadAfterAFlush empties Redis's script cache, as a restart
// does, before each kind of pipelined script call: each loads its script
// and goes through. On a miniredis of its own, so that no other test's
// scripts are flushed under it.
func TestScriptsReloadAfterAFlush(t *testing.T) {
	t.Parallel()
	be := redistest.Mini(t)
	s := bundle{ctx: context.Background(), be: be, b: broker.New(be.Client, be.Prefix)}
	flush := func() {
		t.Helper()
		if err := be.Client.ScriptFlush(s.ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	flush()
	id := enqueue(t, s, "q", "x", 0)
	flush()
	c := claimOne(t, s, "q", time.Minute)
	if c.ID != id {
		t.Fatalf("claimed %s, want %s", c.ID, id)
	}
	flush()
	res, err := s.b.Finish(s.ctx, []broker.Finish{{Claimed: &c, Outcome: broker.Succeeded, Result: []byte("1")}})
	if err != nil || res[0] != nil {
		t.Fatalf("Finish after a script flush = %v, %v", res, err)
	}
	if rec, err := s.b.Get(s.ctx, id); err != nil || rec.Status != results.StatusSucceeded {
		t.Errorf("the task after a script flush before each call: %s, %v; want succeeded", rec.Status, err)
	}
}

// TestTakeStartsTheHead takes with the head that WaitReady saw, as an idle
// worker does: the head starts in the same call, the rest of the batch is
// leased for StartTake, a canceled head leaves the queue unleased, and a
// head that is no longer first is only leased.
func TestTakeStartsTheHead(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ids := []uuid.UUID{enqueue(t, s, "q", "echo", 2), enqueue(t, s, "q", "echo", 0), enqueue(t, s, "q", "echo", 0)}
		ready, ok, err := s.b.WaitReady(s.ctx, []string{"q"}, time.Second)
		if err != nil || !ok {
			t.Fatalf("WaitReady = %+v, %v, %v", ready, ok, err)
		}
		claimed, rest, err := s.b.Take(s.ctx, "q", 5, time.Minute, ready.Head)
		if err != nil || len(claimed) != 1 || rest == nil || len(rest.IDs) != 2 {
			t.Fatalf("Take with the head = %+v, %+v, %v; want the head started and 2 leased", claimed, rest, err)
		}
		if c := claimed[0]; c.ID != ids[0] || c.Attempts != 1 || c.MaxRetries != 2 || c.Name != "echo" || c.Token != rest.Token {
			t.Errorf("started head = %+v, want %s at attempt 1 with 2 retries under %s", c, ids[0], rest.Token)
		}
		if rec, err := s.b.Get(s.ctx, ids[0]); err != nil || rec.Status != results.StatusRunning || rec.Attempts != 1 {
			t.Errorf("Get(head) = %+v, %v; want running, attempt 1", rec, err)
		}
		got, _, err := s.b.StartTake(s.ctx, rest, 0, time.Minute)
		if err != nil || len(got) != 2 || got[0].ID != ids[1] || got[1].ID != ids[2] {
			t.Fatalf("StartTake of the rest = %+v, %v; want %v", got, err, ids[1:])
		}
		if st := stats(t, s, "q"); st.Pending != 0 || st.Leased != 3 {
			t.Errorf("Stats = %+v, want 3 leased under one token", st)
		}

		canceled, second := enqueue(t, s, "q", "echo", 0), enqueue(t, s, "q", "echo", 0)
		if _, err := s.b.Cancel(s.ctx, canceled); err != nil {
			t.Fatal(err)
		}
		claimed, rest, err = s.b.Take(s.ctx, "q", 5, time.Minute, layout.IDText(canceled))
		if err != nil || len(claimed) != 0 || rest == nil || len(rest.IDs) != 1 || rest.IDs[0] != layout.IDText(second) {
			t.Fatalf("Take with a canceled head = %+v, %+v, %v; want only %s leased", claimed, rest, err, second)
		}

		third := enqueue(t, s, "q", "echo", 0)
		claimed, rest, err = s.b.Take(s.ctx, "q", 5, time.Minute, layout.IDText(second))
		if err != nil || len(claimed) != 0 || rest == nil || len(rest.IDs) != 1 || rest.IDs[0] != layout.IDText(third) {
			t.Errorf("Take with a head no longer first = %+v, %+v, %v; want %s leased, none started", claimed, rest, err, third)
		}
		fourth := enqueue(t, s, "q", "echo", 0)
		claimed, rest, err = s.b.Take(s.ctx, "q", 1, time.Minute, "not-an-id")
		if err != nil || len(claimed) != 0 || rest == nil || len(rest.IDs) != 1 || rest.IDs[0] != layout.IDText(fourth) {
			t.Errorf("Take with a malformed head = %+v, %+v, %v; want %s leased, the hint ignored", claimed, rest, err, fourth)
		}

		// A canceled head alone: nothing is leased, and its lease goes.
		alone := enqueue(t, s, "q", "echo", 0)
		if _, err := s.b.Cancel(s.ctx, alone); err != nil {
			t.Fatal(err)
		}
		before := stats(t, s, "q")
		claimed, rest, err = s.b.Take(s.ctx, "q", 5, time.Minute, layout.IDText(alone))
		if err != nil || len(claimed) != 0 || rest != nil {
			t.Fatalf("Take with a lone canceled head = %+v, %+v, %v; want nothing", claimed, rest, err)
		}
		if st := stats(t, s, "q"); st.Pending != 0 || st.Leased != before.Leased {
			t.Errorf("Stats after a lone canceled head = %+v, want none pending and %d leased as before", st, before.Leased)
		}
	})
}
