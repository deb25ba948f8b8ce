package main

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/cmd/internal/proctest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
	"github.com/runq/runq/tasks/builtin"
)

// workers starts n `runq worker` processes with args on the Redis at url
// and waits until each has started its pool; it returns a client of that
// Redis.
func workers(t *testing.T, url string, n int, args ...string) *tasks.Client {
	t.Helper()
	bin := runqBin.Path(t)
	for range n {
		p := proctest.Start(t, bin, append([]string{"worker", "--redis", url, "--grace", "5s"}, args...)...)
		p.WaitFor(t, p.Stderr, regexp.MustCompile(`msg="worker pool started"`), 30*time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rdb, err := broker.Open(ctx, url, 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	c := tasks.NewClient(rdb, tasks.ClientConfig{})
	t.Cleanup(func() { c.Close() })
	return c
}

// submitMany submits n tasks of name with payload to queue in one batch.
func submitMany(t *testing.T, c *tasks.Client, queue, name string, payload any, n int) []uuid.UUID {
	t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	rs := make([]tasks.Request, n)
	for i := range rs {
		rs[i] = tasks.Request{Name: name, Payload: raw, Options: tasks.Options{Queue: queue}}
	}
	recs, err := c.SubmitBatch(context.Background(), rs)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]uuid.UUID, n)
	for i, r := range recs {
		ids[i] = r.ID
	}
	return ids
}

// waitAll waits for every task of ids to succeed at its first attempt and
// returns their records.
func waitAll(t *testing.T, c *tasks.Client, ids []uuid.UUID, timeout time.Duration) []results.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out := make([]results.Record, len(ids))
	for i, id := range ids {
		rec, err := c.Wait(ctx, id)
		if err != nil || rec.Status != results.StatusSucceeded || rec.Attempts != 1 {
			t.Fatalf("task %d of %d: %s after %d attempts, %v; want succeeded at the first (the queue drains)", i, len(ids), rec.Status, rec.Attempts, err)
		}
		out[i] = rec
	}
	return out
}

// TestRateAcrossFourWorkers runs four worker processes with echo limited to
// 10/s: over a window of 10 s (5 s when CI=true) from the first start,
// 100 ± 2 tasks start (50 ± 2), and no window of that length holds more.
func TestRateAcrossFourWorkers(t *testing.T) {
	t.Parallel()
	window := 10 * time.Second
	if os.Getenv("CI") == "true" {
		window = 5 * time.Second
	}
	want := int(window / (100 * time.Millisecond))
	c := workers(t, proctest.StartRedis(t), 4, "--rate", "echo=10/s", "--concurrency", "10")
	ids := submitMany(t, c, tasks.DefaultQueue, "echo", 1, want+want/5)
	recs := waitAll(t, c, ids, 2*window+30*time.Second)
	starts := make([]time.Time, len(recs))
	for i, r := range recs {
		starts[i] = r.StartedAt
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	in := func(from time.Time) int {
		n := 0
		for _, s := range starts {
			if !s.Before(from) && s.Before(from.Add(window)) {
				n++
			}
		}
		return n
	}
	n := in(starts[0])
	t.Logf("%d of %d tasks started in the %v from the first; the last started %v after it", n, len(starts), window, starts[len(starts)-1].Sub(starts[0]))
	if n < want-2 || n > want+2 {
		t.Errorf("%d tasks started in the %v from the first, want %d ± 2 (10/s)", n, window, want)
	}
	for _, s := range starts {
		if n := in(s); n > want+2 {
			t.Errorf("%d tasks started in the %v from %v, want at most %d", n, window, s, want+2)
			break
		}
	}
}

// TestCapsAcrossFourWorkers runs four worker processes of concurrency 5
// with sleep capped at 3 per queue, and a queue capped at 2: the most
// running at once are exactly 3 and 2, and both queues drain.
func TestCapsAcrossFourWorkers(t *testing.T) {
	t.Parallel()
	url := proctest.StartRedis(t)
	c := workers(t, url, 4, "--queues", "default,capped", "--max-running", "sleep=3", "--concurrency", "5")
	two := 2
	if _, err := c.UpdateQueue(context.Background(), "capped", tasks.QueueUpdate{MaxRunning: &two}); err != nil {
		t.Fatal(err)
	}
	named := submitMany(t, c, tasks.DefaultQueue, "sleep", builtin.SleepIn{MS: 200}, 30)
	queued := submitMany(t, c, "capped", "sleep", builtin.SleepIn{MS: 200}, 20)
	for _, tc := range []struct {
		what string
		ids  []uuid.UUID
		want int
	}{{"sleep tasks in default (--max-running sleep=3)", named, 3}, {"tasks in capped (max_running 2)", queued, 2}} {
		got := mostAtOnce(waitAll(t, c, tc.ids, time.Minute))
		t.Logf("%s: at most %d at once", tc.what, got)
		if got != tc.want {
			t.Errorf("most %s running at once = %d, want %d", tc.what, got, tc.want)
		}
	}
	info, err := c.Queue(context.Background(), tasks.DefaultQueue)
	if err != nil {
		t.Fatal(err)
	}
	want := tasks.NameLimits{Name: "sleep", MaxRunning: 3}
	if i := slices.IndexFunc(info.Limits, func(l tasks.NameLimits) bool { return l.Name == "sleep" }); i < 0 || info.Limits[i] != want {
		t.Errorf("limits of default = %+v, want %+v after the queue drained", info.Limits, want)
	}
}

// mostAtOnce returns the most of recs running at one instant, each from
// its start to its finish (Redis's clock: a slot freed by a finish is
// taken by a later start).
func mostAtOnce(recs []results.Record) int {
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, r := range recs {
		edges = append(edges, edge{r.StartedAt, 1}, edge{r.FinishedAt, -1})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta // an end before a start at the same millisecond
	})
	most, now := 0, 0
	for _, e := range edges {
		now += e.delta
		most = max(most, now)
	}
	return most
}
