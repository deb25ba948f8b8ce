package outages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/tasks"
)

// blackholeLease is the visibility timeout of the blackhole test's pool.
const blackholeLease = 3 * time.Second

// TestNetworkBlackhole cuts the network between a worker pool and Redis
// (a proxy stops forwarding and keeps the connections open) for longer
// than the visibility timeout, then heals it. Four long tasks (twice the
// lease) and a stream of short ones are running at the cut. Pass: every
// handler still running when its lease could no longer be confirmed is
// cancelled with tasks.ErrLeaseLost before that lease expires on Redis's
// clock; every task ends succeeded after the heal; and the duplicate
// executions are no more than the tasks the pool held at the cut.
func TestNetworkBlackhole(t *testing.T) {
	size := setup(t)
	began := time.Now()
	rs := StartRedis(t)
	px := StartProxy(t, rs.Addr())
	direct := openRedis(t, rs.URL(), 16)
	worker := openRedis(t, "redis://"+px.Addr()+"/0", 32)

	rec := &recorder{}
	reg := tasks.NewRegistry()
	rec.register(reg, 0)
	register(t, direct, reg)
	long := 2 * blackholeLease
	ids := submitWork(t, direct, 4, long)
	ids = append(ids, submitWork(t, direct, size.BlackholeTasks, 50*time.Millisecond)...)

	pool := tasks.NewPool(worker, reg, tasks.PoolConfig{
		Concurrency: 8, VisibilityTimeout: blackholeLease, Grace: 5 * time.Second, Logger: testLogger(t, "pool"),
	})
	stop := runPool(t, pool)
	waitLongRunning(t, rec, long, 4)
	time.Sleep(time.Second) // shorts flow and the long tasks' leases are renewed

	px.Cut()
	cutAt, heldAtCut := time.Now(), pool.Running()
	time.Sleep(300 * time.Millisecond) // whatever was on the wire has landed
	deadlines := leaseDeadlines(t, direct)
	time.Sleep(size.Blackhole - 300*time.Millisecond)
	px.Restore()
	healAt := time.Now()

	st := waitTerminal(t, direct, ids, 60*time.Second+long)
	doneAt := time.Now()
	stop()
	execs := rec.snapshot()
	v := judgeCut(execs, cutAt, deadlines, long)

	dup := duplicates(execs)
	inflight := max(heldAtCut, len(runningAt(execs, cutAt)))
	succeeded := countStatus(st, "succeeded")
	Summary(t, "network-blackhole", "size", size.Name, "tasks", len(ids), "cut_s", size.Blackhole.Seconds(),
		"visibility_s", blackholeLease.Seconds(), "inflight_at_cut", inflight, "running_at_cut", v.running,
		"lease_cancelled", v.cancelled, "min_margin_ms", v.minMargin, "late_or_uncancelled", len(v.problems),
		"succeeded", succeeded, "not_succeeded", len(ids)-succeeded, "executions", len(execs), "duplicates", dup,
		"heal_to_first_claim_ms", ms(firstStartAfter(execs, healAt)),
		"heal_to_all_done", doneAt.Sub(healAt).Round(100*time.Millisecond),
		"duration", time.Since(began).Round(100*time.Millisecond))

	if len(v.problems) > 0 {
		t.Errorf("%d handlers not cancelled with ErrLeaseLost before their lease expired: %s",
			len(v.problems), strings.Join(v.problems[:min(5, len(v.problems))], "; "))
	}
	if v.longCancelled < v.longAtCut {
		t.Errorf("%d of the %d long tasks running at the cut were cancelled, want all", v.longCancelled, v.longAtCut)
	}
	if succeeded != len(ids) {
		t.Errorf("%d of %d tasks succeeded after the heal; first others: %s", succeeded, len(ids), notSucceeded(st, 5))
	}
	if dup > inflight {
		t.Errorf("%d duplicate executions, more than the %d tasks in flight at the cut", dup, inflight)
	}
}

// submitWork queues n "fault.work" tasks of duration d on rdb's Redis.
func submitWork(t testing.TB, rdb redis.UniversalClient, n int, d time.Duration) []uuid.UUID {
	t.Helper()
	c := tasks.NewClient(rdb, tasks.ClientConfig{})
	defer c.Close()
	payload, _ := json.Marshal(workArgs{MS: int(d / time.Millisecond)})
	ids := make([]uuid.UUID, 0, n)
	ctx := context.Background()
	for range n {
		rec, err := c.Submit(ctx, tasks.Request{Name: "fault.work", Payload: payload})
		if err != nil {
			t.Fatalf("Submit: %v", err)
		}
		ids = append(ids, rec.ID)
	}
	return ids
}

// waitLongRunning waits up to 10s until n executions planned for d run.
func waitLongRunning(t testing.TB, rec *recorder, d time.Duration, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got := 0
		for _, e := range runningAt(rec.snapshot(), time.Now()) {
			if e.planned == d {
				got++
			}
		}
		if got >= n {
			return
		}
	}
	t.Fatalf("the %d long tasks did not start within 10s", n)
}

// leaseDeadlines reads the lease deadline of each leased task of the
// default queue (ms on Redis's clock, which is this machine's clock): a
// lease covers one claim's batch, its set names the tasks.
func leaseDeadlines(t testing.TB, rdb redis.UniversalClient) map[string]int64 {
	keys := redistest.Layout("")
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	zs, err := rdb.ZRangeWithScores(ctx, keys.Leases(tasks.DefaultQueue), 0, -1).Result()
	if err != nil {
		t.Fatalf("reading leases: %v", err)
	}
	out := make(map[string]int64, len(zs))
	for _, z := range zs {
		ids, err := rdb.SMembers(ctx, keys.LeaseTasks(tasks.DefaultQueue, z.Member.(string))).Result()
		if err != nil {
			t.Fatalf("reading the tasks of lease %v: %v", z.Member, err)
		}
		for _, s := range ids {
			id, err := redistest.ParseIDText(s)
			if err != nil {
				t.Fatalf("leased ID %q: %v", s, err)
			}
			out[id.String()] = int64(z.Score)
		}
	}
	return out
}

// cutVerdict judges the handlers running at the cut.
type cutVerdict struct {
	running, cancelled       int
	longAtCut, longCancelled int
	minMargin                int64 // smallest lease deadline minus cancel time, ms
	problems                 []string
}

// judgeCut checks each execution running at the cut: it must either have
// finished before its lease deadline, or have been cancelled with
// ErrLeaseLost before it.
func judgeCut(execs []execution, cut time.Time, deadlines map[string]int64, long time.Duration) cutVerdict {
	v := cutVerdict{minMargin: -1}
	for _, e := range runningAt(execs, cut) {
		v.running++
		if e.planned == long {
			v.longAtCut++
		}
		deadline, ok := deadlines[e.id]
		switch {
		case !ok:
			v.problems = append(v.problems, fmt.Sprintf("task %s: no lease in Redis at the cut", e.id))
		case e.cancelled.IsZero() && (e.end.IsZero() || e.end.UnixMilli() >= deadline):
			v.problems = append(v.problems, fmt.Sprintf("task %s: ran past its lease deadline without cancellation", e.id))
		case e.cancelled.IsZero():
		case !errors.Is(e.cause, tasks.ErrLeaseLost) || e.cancelled.UnixMilli() >= deadline:
			v.problems = append(v.problems, fmt.Sprintf("task %s: cancelled %dms before its deadline, cause %v",
				e.id, deadline-e.cancelled.UnixMilli(), e.cause))
		default:
			v.cancelled++
			if e.planned == long {
				v.longCancelled++
			}
			if m := deadline - e.cancelled.UnixMilli(); v.minMargin < 0 || m < v.minMargin {
				v.minMargin = m
			}
		}
	}
	return v
}

// notSucceeded lists up to n tasks of st that did not succeed.
func notSucceeded(st map[uuid.UUID]string, n int) string {
	var out []string
	for id, s := range st {
		if s != "succeeded" && len(out) < n {
			out = append(out, fmt.Sprintf("%s=%q", id, s))
		}
	}
	return strings.Join(out, ", ")
}

// firstStartAfter returns the time from t to the first execution started
// after it, or -1 if none did.
func firstStartAfter(execs []execution, t time.Time) time.Duration {
	first := time.Duration(-1)
	for _, e := range execs {
		if d := e.start.Sub(t); d >= 0 && (first < 0 || d < first) {
			first = d
		}
	}
	return first
}
