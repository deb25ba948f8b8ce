package workers

import (
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/cmd/internal/proctest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// TestZombies fills a worker's every slot with "zombie" attempts, handlers
// that ignore their context and sleep three times their timeout. The pool
// must abandon each a little after its timeout: record the failure (a
// retry, or a final failure when no retry is left), release the lease,
// count and log the zombie, and keep its slot, so that it claims nothing
// more while its slots are full. A second worker then runs the retries
// and the waiting echo tasks; when the zombies return at last, their
// results must not overwrite what the retries recorded.
//
// The pools run in this process, against the test's redis-server, so that
// their Stats can be read: the numbers checked are what the pools count.
func TestZombies(t *testing.T) {
	t.Parallel()
	s := setup(t)
	nZombies, nEcho := 3, 200
	if s.full {
		nZombies, nEcho = 8, 2000
	}
	const (
		timeout    = 2 * time.Second
		visibility = 2 * time.Second
		abandonBy  = timeout + visibility/4 + visibility/8 + 2*time.Second // deadline, keeper tick, margin
	)
	w := &zombieWorld{sleep: 3 * timeout}
	s.registerNames(t, "zombie", "echo")
	var reqs []tasks.Request
	for i := range nZombies {
		r := request(t, "zombie", ZombieArgs{MS: int(w.sleep.Milliseconds()), Attempts: 1})
		r.Timeout, r.MaxRetries = timeout, 1
		if i == nZombies-1 {
			r.MaxRetries = tasks.NoRetries // this one fails for good when abandoned
		}
		reqs = append(reqs, r)
	}
	zombies := s.submit(t, reqs)
	retried, failing := zombies[:nZombies-1], zombies[nZombies-1]

	cfg := tasks.PoolConfig{Concurrency: nZombies, VisibilityTimeout: visibility, Grace: time.Second,
		Backoff: func(int) time.Duration { return 50 * time.Millisecond }}
	full, fullLog := s.runPool(t, w.registry(0), cfg)
	s.waitStatus(t, zombies, 30*time.Second, "running", func(st results.Status) bool { return st == results.StatusRunning })
	started := time.Now()
	reqs = make([]tasks.Request, nEcho)
	for i := range reqs {
		reqs[i] = request(t, "echo", i)
	}
	echoes := s.submit(t, reqs)

	waitStats(t, full, abandonBy, "every attempt abandoned", func(st tasks.PoolStats) bool {
		return st.Abandoned == int64(nZombies) && st.Zombies == nZombies
	})
	abandonAfter := time.Since(started)
	atAbandon := full.Stats()
	s.waitStatus(t, []uuid.UUID{failing}, 5*time.Second, "failed", func(st results.Status) bool { return st == results.StatusFailed })
	queued := 0
	for _, r := range s.records(t, echoes) {
		if r.Status == results.StatusQueued {
			queued++
		}
	}

	cfg.Concurrency = 8
	s.runPool(t, w.registry(1), cfg)
	s.waitTerminal(t, append(append([]uuid.UUID{}, retried...), echoes...), w.sleep)
	w.waitReturned(t, nZombies, w.sleep+10*time.Second)
	waitStats(t, full, 10*time.Second, "no zombie left", func(st tasks.PoolStats) bool { return st.Zombies == 0 })
	recs := s.waitTerminal(t, append(append([]uuid.UUID{}, zombies...), echoes...), 30*time.Second)
	end := full.Stats()
	overwritten, lost := checkZombieRecords(t, recs, nZombies, timeout, w.firstReturn())
	claimedWhileFull := w.claimedWhileFull()
	logged := maxZombiesLogged(fullLog.String())
	summary(t, "zombies zombies=%d timeout=%s handler_sleeps=%s abandon_after=%s abandoned=%d zombies_counted=%d zombies_logged=%d echo_queued_while_full=%d/%d claims_while_full=%d retried_elsewhere=%d overwritten=%d lease_lost=%d echo=%d lost=%d",
		nZombies, timeout, w.sleep, seconds(abandonAfter), atAbandon.Abandoned, atAbandon.Zombies, logged, queued, nEcho,
		claimedWhileFull, len(retried), overwritten, end.LeaseLost, nEcho, lost)

	if queued != nEcho || claimedWhileFull != 0 {
		t.Errorf("while zombies held every slot: %d of %d echo tasks queued and %d claimed by that worker, want all queued and none claimed",
			queued, nEcho, claimedWhileFull)
	}
	if atAbandon.Running != nZombies {
		t.Errorf("Stats().Running = %d with every attempt abandoned, want %d: a zombie keeps its slot", atAbandon.Running, nZombies)
	}
	if end.Abandoned != int64(nZombies) || end.Succeeded+end.Failed+end.Retried < int64(nZombies) {
		t.Errorf("final Stats() = %+v, want Abandoned %d and the abandoned attempts' failures recorded", end, nZombies)
	}
	if logged != nZombies {
		t.Errorf("largest zombies=N logged = %d, want %d", logged, nZombies)
	}
	checkZombieLogs(t, fullLog.String(), zombies)
}

// checkZombieRecords checks the records of TestZombies, in the order
// submitted: the retried zombie tasks succeeded with their retry's result,
// which finished before the zombies returned; the last zombie task failed
// with its timeout and no result; the echo tasks succeeded. It returns
// how many zombie tasks hold another outcome, and how many echo tasks did
// not succeed.
func checkZombieRecords(t *testing.T, recs []results.Record, nZombies int, timeout time.Duration, zombiesReturned time.Time) (overwritten, lost int) {
	t.Helper()
	for i, r := range recs {
		switch {
		case i < nZombies-1:
			var got Outcome // Outcome.PID holds the pool's number here
			want := Outcome{Attempt: 2, PID: 1}
			if err := json.Unmarshal(r.Result, &got); r.Status != results.StatusSucceeded || err != nil || got != want || r.Attempts != 2 {
				overwritten++
				t.Errorf("task %s: status %q, result %s, attempts %d; want %s, the retry's result %+v, 2",
					r.ID, r.Status, r.Result, r.Attempts, results.StatusSucceeded, want)
			}
			if r.FinishedAt.IsZero() || !r.FinishedAt.Before(zombiesReturned) {
				t.Errorf("task %s: retry finished at %v, want before the zombies returned at %v (else the test proves less)",
					r.ID, r.FinishedAt, zombiesReturned)
			}
		case i == nZombies-1:
			if r.Status != results.StatusFailed || r.Attempts != 1 || len(r.Result) != 0 ||
				!strings.Contains(r.Error, "timed out after "+timeout.String()) || !strings.Contains(r.Error, "ignored cancellation") {
				overwritten++
				t.Errorf("task %s (no retries): status %q, attempts %d, result %s, error %q; want %s, 1, no result, a timeout error naming the ignored cancellation",
					r.ID, r.Status, r.Attempts, r.Result, r.Error, results.StatusFailed)
			}
		case r.Status != results.StatusSucceeded:
			lost++
			t.Errorf("echo task %s: status %q (error %q), want %s", r.ID, r.Status, r.Error, results.StatusSucceeded)
		}
	}
	return overwritten, lost
}

// zombieWorld holds the handlers of TestZombies and what they saw.
type zombieWorld struct {
	sleep  time.Duration
	echoes [2]atomic.Int64 // echo executions, by pool

	mu       sync.Mutex
	returned []time.Time // when each zombie attempt returned
	echoSeen []int64     // pool 0's echo executions at each of those moments
}

// registry returns the handlers of pool number pool (0 or 1). The result
// of "zombie" is an Outcome whose PID field holds the pool's number.
func (w *zombieWorld) registry(pool int) *tasks.Registry {
	reg := tasks.NewRegistry()
	reg.HandleFunc("echo", func(_ context.Context, t *tasks.Task) (any, error) {
		w.echoes[pool].Add(1)
		return t.Payload, nil
	})
	tasks.Handle(reg, "zombie", func(_ context.Context, t *tasks.Task, in ZombieArgs) (Outcome, error) {
		if t.Attempt <= in.Attempts {
			time.Sleep(time.Duration(in.MS) * time.Millisecond) // the context is ignored on purpose
			// The slot is still held here: pool 0 cannot have claimed
			// anything since its slots filled with zombies.
			w.mu.Lock()
			w.returned = append(w.returned, time.Now())
			w.echoSeen = append(w.echoSeen, w.echoes[0].Load())
			w.mu.Unlock()
		}
		return Outcome{Attempt: t.Attempt, PID: pool}, nil
	})
	return reg
}

func (w *zombieWorld) firstReturn() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.returned) == 0 {
		return time.Time{}
	}
	return w.returned[0]
}

// claimedWhileFull is how many echo tasks pool 0 had run when its first
// zombie returned.
func (w *zombieWorld) claimedWhileFull() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.echoSeen) == 0 {
		return -1
	}
	return w.echoSeen[0]
}

// waitReturned polls until n zombie attempts have returned.
func (w *zombieWorld) waitReturned(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		w.mu.Lock()
		got := len(w.returned)
		w.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("%d of %d zombie handlers returned within %s", got, n, timeout)
		}
	}
}

// runPool runs a pool of reg in this process on a Redis client of its own
// (with hooks added), logging to the returned Output, until the test ends.
func (s *bundle) runPool(t *testing.T, reg *tasks.Registry, cfg tasks.PoolConfig, hooks ...redis.Hook) (*tasks.Pool, *proctest.Output) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	rdb, err := broker.Open(ctx, s.url, 0)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hooks {
		rdb.AddHook(h)
	}
	log := proctest.NewOutput()
	cfg.Logger = slog.New(slog.NewTextHandler(log, nil))
	pool := tasks.NewPool(rdb, reg, cfg)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pool.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Pool.Run = %v, want nil", err)
			}
		case <-time.After(cfg.Grace + 15*time.Second):
			t.Errorf("Pool.Run still running %s after its context ended", cfg.Grace+15*time.Second)
		}
		rdb.Close()
		if t.Failed() {
			t.Logf("pool log:\n%s", tail(log.String(), 6000))
		}
	})
	return pool, log
}

// waitStats polls p.Stats() every 20ms until ok accepts it.
func waitStats(t *testing.T, p *tasks.Pool, timeout time.Duration, what string, ok func(tasks.PoolStats) bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !ok(p.Stats()) {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("Stats() = %+v after %s, want %s", p.Stats(), timeout, what)
		}
	}
}

var zombiesLogged = regexp.MustCompile(`is abandoned.* zombies=(\d+)`)

// maxZombiesLogged returns the largest zombie count a pool logged.
func maxZombiesLogged(log string) int {
	n := 0
	for _, m := range zombiesLogged.FindAllStringSubmatch(log, -1) {
		v, _ := strconv.Atoi(m[1])
		n = max(n, v)
	}
	return n
}

// checkZombieLogs checks that the pool logged each zombie's abandonment
// and its late return.
func checkZombieLogs(t *testing.T, log string, ids []uuid.UUID) {
	t.Helper()
	for _, id := range ids {
		for _, msg := range []string{"handler ignored its timeout and is abandoned", "abandoned handler returned at last"} {
			re := regexp.MustCompile(regexp.QuoteMeta(msg) + `.*task_id=` + id.String())
			if !re.MatchString(log) {
				t.Errorf("pool did not log %q for task %s", msg, id)
			}
		}
	}
}
